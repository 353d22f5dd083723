#!/usr/bin/python
"""Report the given facts as gathered facts, so they land in ``ansible_facts`` and as ``ansible_*``
variables exactly as the setup module's would (the oracle runs without fact gathering)."""

from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"facts": {"type": "dict", "required": True}}, supports_check_mode=True)
    module.exit_json(changed=False, ansible_facts=module.params["facts"])


if __name__ == "__main__":
    main()
