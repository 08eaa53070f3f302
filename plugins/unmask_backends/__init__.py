"""Built-in inference backends for `unmask infer`, registered under the `unmask.backends` entry point group."""
