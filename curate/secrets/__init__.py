"""The secrets stage (stage.py): keys, tokens, passwords, e-mail and IP addresses in code replaced by placeholders."""
