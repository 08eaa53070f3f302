"""Built-in mask styles for `unmask synthesize`, registered under the `unmask.synthesizers` entry point group."""
