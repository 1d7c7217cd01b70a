// Interface strings in Persian and English, and the formatters that follow the language:
// Persian digits and the Jalali calendar come from Intl with the 'fa-IR' locale.

import { STRINGS } from './strings.js';

const LANG_KEY = 'chapar.lang';
const listeners = new Set();
let lang = localStorage.getItem(LANG_KEY) === 'en' ? 'en' : 'fa';

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next === 'en' ? 'en' : 'fa';
  localStorage.setItem(LANG_KEY, lang);
  applyDocumentLang();
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function applyDocumentLang() {
  document.documentElement.lang = lang;
  document.documentElement.dir = lang === 'fa' ? 'rtl' : 'ltr';
  document.title = STRINGS[lang].appName;
}

function locale() {
  return lang === 'fa' ? 'fa-IR' : 'en-GB';
}

/** The string for key in the current language, with {name} placeholders filled in. */
export function t(key, vars = {}) {
  const s = STRINGS[lang][key] ?? STRINGS.en[key] ?? key;
  return s.replace(/\{(\w+)\}/g, (_, k) => (k in vars ? String(vars[k]) : `{${k}}`));
}

/** A count in a sentence: `${key}_one` for one when the language has it, else `key`. */
export function tn(key, count, vars = {}) {
  const one = `${key}_one`;
  const k = count === 1 && one in STRINGS[lang] ? one : key;
  return t(k, { ...vars, count: num(count) });
}

/** A size in bytes, readable: 1.5 MB. */
export function fileSize(bytes) {
  const units = lang === 'fa' ? ['بایت', 'ک‌ب', 'م‌ب', 'گ‌ب'] : ['B', 'KB', 'MB', 'GB'];
  let n = bytes;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  const f = new Intl.NumberFormat(locale(), { maximumFractionDigits: i ? 1 : 0 });
  return `${f.format(n)} ${units[i]}`;
}

/** 0.42 -> "42%" in the interface's digits. */
export function percent(fraction) {
  return new Intl.NumberFormat(locale(), { style: 'percent' }).format(fraction);
}

/** A readable sentence for an API or client error, in the interface language. */
export function errorText(err) {
  const type = err?.type ?? 'UNKNOWN';
  if (type === 'FLOOD_WAIT') return t('err_FLOOD_WAIT', { seconds: num(err.retry_after ?? 1) });
  const key = `err_${type}`;
  return key in STRINGS[lang] ? t(key) : t('err_generic', { type });
}

const numberFormats = new Map();
export function num(n) {
  const loc = locale();
  if (!numberFormats.has(loc)) numberFormats.set(loc, new Intl.NumberFormat(loc));
  return numberFormats.get(loc).format(n);
}

const FA_DIGITS = '۰۱۲۳۴۵۶۷۸۹';
/** Digits of a string (a phone number, a code) written in the interface's digits. */
export function digits(s) {
  return lang === 'fa' ? String(s).replace(/[0-9]/g, (d) => FA_DIGITS[d]) : String(s);
}

/** Persian and Arabic-Indic digits typed on a Persian keyboard, as ASCII digits. */
export function asciiDigits(s) {
  return String(s)
    .replace(/[۰-۹]/g, (d) => String(d.charCodeAt(0) - 0x06f0))
    .replace(/[٠-٩]/g, (d) => String(d.charCodeAt(0) - 0x0660));
}

const dateFormats = new Map();
function fmt(options) {
  const key = locale() + JSON.stringify(options);
  if (!dateFormats.has(key)) dateFormats.set(key, new Intl.DateTimeFormat(locale(), options));
  return dateFormats.get(key);
}

const DAY = 86400_000;
function startOfDay(ms) {
  const d = new Date(ms);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

export function time(unix) {
  return fmt({ hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(unix * 1000);
}

function sameYear(ms) {
  const f = fmt({ year: 'numeric' });
  return f.format(ms) === f.format(Date.now());
}

/** The date separator in a conversation: Today, Yesterday, or "5 Azar" (Jalali in Persian). */
export function day(unix) {
  const ms = unix * 1000;
  const today = startOfDay(Date.now());
  if (ms >= today) return t('today');
  if (ms >= today - DAY) return t('yesterday');
  const opts = { day: 'numeric', month: 'long' };
  if (!sameYear(ms)) opts.year = 'numeric';
  return fmt(opts).format(ms);
}

/** The time in the chat list: the hour today, the weekday this week, else the date. */
export function shortDate(unix) {
  const ms = unix * 1000;
  const today = startOfDay(Date.now());
  if (ms >= today) return time(unix);
  if (ms >= today - 6 * DAY) return fmt({ weekday: 'short' }).format(ms);
  const opts = { day: 'numeric', month: 'short' };
  if (!sameYear(ms)) opts.year = '2-digit';
  return fmt(opts).format(ms);
}

export function dateTime(unix) {
  return fmt({ dateStyle: 'medium', timeStyle: 'short' }).format(unix * 1000);
}

export function dayKey(unix) {
  return startOfDay(unix * 1000);
}

/** 75 -> "1:15" in the interface's digits. */
export function countdown(seconds) {
  const m = Math.floor(seconds / 60);
  const s = String(seconds % 60).padStart(2, '0');
  return digits(`${m}:${s}`);
}

/**
 * Text folded for search, the way the server's search treats Persian: Arabic yeh and kaf as
 * Persian ی and ک, no ZWNJ or diacritics, Persian and Arabic digits as ASCII, no case.
 */
export function fold(s) {
  return asciiDigits(String(s))
    .replace(/[يى]/g, 'ی')
    .replace(/ك/g, 'ک')
    .replace(/[ة]/g, 'ه')
    .replace(/[\u064b-\u065f\u0670\u200c\u200d\u200e\u200f\u0640]/g, '')
    .toLocaleLowerCase()
    .trim();
}
