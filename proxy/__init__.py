"""Running Shekara: the CLI, replay of saved captures and the live proxy."""
