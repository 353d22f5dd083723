"""The only place that knows Kubespray internals: its YAML, its variables, its download logic."""
