// What the app adds around its screens; app.js calls these at marked hooks. The sign-in form's
// message for the one field rule that failed.

// ---- sign in / register ----

/**
 * What the form says when the browser's own checks fail: the rule of the first field that broke
 * one, not every rule at once.
 * @param {HTMLFormElement} form
 * @param {boolean} registering
 */
export function authRuleText(form, registering) {
  const username = form.elements.namedItem('username');
  const password = form.elements.namedItem('password');
  if (username instanceof HTMLInputElement && !username.validity.valid) {
    return username.validity.valueMissing ? 'Enter a username.' : 'Usernames have 3–32 letters, digits, _ . or -.';
  }
  if (password instanceof HTMLInputElement && !password.validity.valid) {
    if (password.validity.valueMissing) return 'Enter a password.';
    return registering ? 'Passwords need at least 8 characters.' : 'Passwords have at least 8 characters.';
  }
  return 'Check the form.';
}
