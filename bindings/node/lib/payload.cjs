'use strict';
// The payload codec every duroxide language shares (docs/protocol.md): a
// value that encodes to a JSON string is stored raw, without the quotes;
// anything else as JSON text. Decoding tries JSON first and falls back to
// the raw text. null and undefined are the empty payload.

const { PayloadError, describe } = require('./errors.cjs');

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Encode a JS value as a payload string.
 * @param {unknown} value
 * @param {string} [what] what the value is, for the error message
 * @returns {string}
 */
function encode(value, what = 'value') {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (value instanceof Uint8Array) {
    try {
      return utf8.decode(value);
    } catch (e) {
      throw new PayloadError(`cannot encode ${what}: bytes are not UTF-8`);
    }
  }
  let text;
  try {
    text = JSON.stringify(value);
  } catch (e) {
    throw new PayloadError(`cannot encode ${what}: ${e && e.message ? e.message : describe(e)}`);
  }
  if (text === undefined) {
    throw new PayloadError(`cannot encode ${what}: ${describe(value)} has no JSON form`);
  }
  return text;
}

// Characters that can start a JSON value (after optional whitespace).
const JSON_START = new Set('{["tfn-0123456789 \t\r\n');

/**
 * Decode a payload string into a JS value.
 * @param {string|null|undefined} payload
 * @returns {unknown}
 */
function decode(payload) {
  if (payload === undefined || payload === null || payload === '') return null;
  if (!JSON_START.has(payload[0])) return payload; // raw text
  try {
    return JSON.parse(payload);
  } catch (_) {
    return payload;
  }
}

/** The text the engine shows for a recorded error (ErrorDetails). */
function displayMessage(err) {
  if (!err) return '';
  const cat = err.category;
  const kind = err.kind;
  const msg = err.message || '';
  switch (cat) {
    case 'application':
      if (kind === 'Cancelled') return 'canceled: ' + (err.reason || '');
      if (kind === 'Panicked') return 'orchestration panicked: ' + msg;
      return msg;
    case 'infrastructure':
      return `infrastructure:${err.operation || ''}: ${msg}`;
    case 'configuration':
      return kind === 'Nondeterminism' ? 'nondeterministic: ' + msg : 'configuration: ' + msg;
    case 'poison':
      return `poison: ${err.resource || ''} exceeded ${err.attempt_count || 0} attempts (max ${err.max_attempts || 0}): ${msg}`;
    default:
      return msg;
  }
}

/** snake_case keys to camelCase, one level deep. */
function camel(obj) {
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return obj;
  const out = {};
  for (const k of Object.keys(obj)) {
    out[k.includes('_') ? k.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase()) : k] = obj[k];
  }
  return out;
}

/** camelCase keys to snake_case, one level deep. */
function snake(obj) {
  const out = {};
  for (const k of Object.keys(obj)) {
    out[k.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())] = obj[k];
  }
  return out;
}

module.exports = { encode, decode, displayMessage, camel, snake };
