// The engine's oVirt REST API v4 (JSON) and the UI's own /ui calls; every failure becomes an ApiError
// carrying the engine's message, never a raw body.

const API = '/ovirt-engine/api';
const KEY = 'neutrino.session';

export class ApiError extends Error {
  constructor(message, status) {
    super(message);
    this.status = status;
  }
}

let session = JSON.parse(sessionStorage.getItem(KEY) || 'null');

export function currentUser() {
  return session && session.user;
}

export async function login(user, password) {
  const form = new URLSearchParams({ grant_type: 'password', scope: 'ovirt-app-api', username: user, password });
  let res;
  try {
    res = await fetch('/ovirt-engine/sso/oauth/token', {
      method: 'POST',
      body: form,
      headers: { Accept: 'application/json' },
    });
  } catch (err) {
    throw new ApiError(`The engine cannot be reached (${err.message}).`, 0);
  }
  const body = await parse(res);
  if (!res.ok || !body.access_token) {
    throw new ApiError(body.error || body.error_description || `Login failed (HTTP ${res.status}).`, res.status);
  }
  session = { token: body.access_token, user };
  sessionStorage.setItem(KEY, JSON.stringify(session));
}

export async function logout() {
  const token = session && session.token;
  forget();
  if (token) {
    await fetch('/ovirt-engine/services/sso-logout', { method: 'POST', body: new URLSearchParams({ token }) }).catch(
      () => {},
    );
  }
}

function forget() {
  session = null;
  sessionStorage.removeItem(KEY);
}

async function parse(res) {
  const text = await res.text();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    return { detail: `Unexpected answer from the engine (HTTP ${res.status}).` };
  }
}

// oVirt faults are {"reason": "Operation Failed", "detail": "[message]"}; the UI's own calls say {"error"}.
export function faultMessage(body, status) {
  if (body && typeof body.detail === 'string' && body.detail) return body.detail.replace(/^\[(.*)\]$/s, '$1');
  if (body && body.error) return String(body.error);
  if (body && body.reason) return String(body.reason);
  return `The engine answered HTTP ${status}.`;
}

export async function call(method, path, body) {
  const url = path.startsWith('/ui/') ? path : API + path;
  const headers = { Accept: 'application/json' };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  const init = { method, headers };
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (err) {
    throw new ApiError(`The engine cannot be reached (${err.message}).`, 0);
  }
  const data = await parse(res);
  if (res.status === 401) {
    forget();
    window.dispatchEvent(
      new CustomEvent('neutrino:logged-out', { detail: 'Your session has ended; please log in again.' }),
    );
    throw new ApiError('Your session has ended; please log in again.', 401);
  }
  if (!res.ok) throw new ApiError(faultMessage(data, res.status), res.status);
  return data;
}

export const get = (path) => call('GET', path);
export const post = (path, body = {}) => call('POST', path, body);
export const put = (path, body) => call('PUT', path, body);
export const del = (path) => call('DELETE', path);

// a collection's items: {"network": [...]} -> [...]
export async function list(path, element) {
  const body = await get(path);
  return (body && body[element]) || [];
}

export const truthy = (v) => v === true || v === 'true';
