"""What people read: the deck, the generated docs, notebook helpers, the JupyterLab
launcher. May import any package below it."""
