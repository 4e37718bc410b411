"""One module per Okta hook type: its request schema, typed request, response helper and rules."""
