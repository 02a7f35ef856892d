// Sessions and devices: signing up and in (REST), keeping the session in localStorage, and this
// browser's stable device id. `ConfabClient.register`, `.login`, `.saveSession`, `.loadSession`
// and `.clearSession` are these functions.

import { rest } from './sdk-transport.js';

/** @typedef {import('./types/proto.js').AuthResponse} AuthResponse */

/**
 * A signed-in session: the server's `AuthResponse` plus the server it came from.
 * @typedef {AuthResponse & { baseUrl: string }} Session
 */

const SESSION_KEY = 'confab.session';
const DEVICE_KEY = 'confab.deviceId';

/** A random UUID (v4), also where `crypto.randomUUID` is missing (insecure origins). */
export function uuid() {
  if (typeof globalThis.crypto?.randomUUID === 'function') return crypto.randomUUID();
  return 'xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx'.replace(/[xy]/g, (c) => {
    const r = (Math.random() * 16) | 0;
    return (c === 'x' ? r : (r & 0x3) | 0x8).toString(16);
  });
}

/** This browser's stable device id (kept in localStorage). */
export function deviceId() {
  try {
    let id = localStorage.getItem(DEVICE_KEY);
    if (!id) {
      id = 'web-' + uuid();
      localStorage.setItem(DEVICE_KEY, id);
    }
    return id;
  } catch {
    return 'web-' + uuid();
  }
}

/**
 * `POST /auth/register`; returns a session object `{baseUrl, token, userId, username, displayName, expiresAt}`.
 * @param {string} baseUrl
 * @param {import('./types/proto.js').RegisterRequest} request
 * @returns {Promise<Session>}
 */
export async function register(baseUrl, { username, password, displayName, inviteCode }) {
  /** @type {import('./types/proto.js').RegisterRequest} */
  const body = { username, password, displayName };
  if (inviteCode) body.inviteCode = inviteCode;
  const r = await rest(baseUrl, 'POST', '/auth/register', { body });
  return { baseUrl, ...r };
}

/**
 * `GET /auth/registration`: whether the server registers anyone (`open`), no one (`closed`) or
 * whoever has an invite code (`invite`).
 * @param {string} baseUrl
 * @returns {Promise<import('./types/proto.js').RegistrationInfo>}
 */
export async function registration(baseUrl) {
  return rest(baseUrl, 'GET', '/auth/registration');
}

/**
 * `POST /auth/login`; returns a session object.
 * @param {string} baseUrl
 * @param {import('./types/proto.js').LoginRequest} request
 * @returns {Promise<Session>}
 */
export async function login(baseUrl, { username, password }) {
  const r = await rest(baseUrl, 'POST', '/auth/login', { body: { username, password } });
  return { baseUrl, ...r };
}

/**
 * Keeps a session in localStorage so the next page load starts signed in.
 * @param {Session} session
 */
export function saveSession(session) {
  globalThis.localStorage?.setItem(SESSION_KEY, JSON.stringify(session));
}

/**
 * The saved session, or null when there is none or it has expired.
 * @returns {Session | null}
 */
export function loadSession() {
  try {
    const s = JSON.parse(localStorage.getItem(SESSION_KEY) || 'null');
    if (s && s.token && (!s.expiresAt || s.expiresAt > Date.now())) return s;
  } catch {
    /* ignore */
  }
  return null;
}

/** Forgets the saved session. */
export function clearSession() {
  globalThis.localStorage?.removeItem(SESSION_KEY);
}
