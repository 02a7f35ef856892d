// Confab web client.
