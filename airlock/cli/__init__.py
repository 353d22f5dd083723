"""Thin click commands: parse, call one core function, render."""
