"""Every command-line front-end: `triobot` and its subcommands, the console."""
