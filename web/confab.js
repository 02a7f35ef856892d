// Confab JavaScript SDK.
