// Interface strings in Persian and English, and the formatters that follow the language:
// Persian digits and the Jalali calendar come from Intl with the 'fa-IR' locale.

const STRINGS = {
  fa: {
    appName: 'چاپار',
    tagline: 'پیام‌رسانی که روی سرورهای خودتان اجرا می‌شود',
    language: 'زبان',
    otherLanguage: 'English',
    // sign-in
    signInTitle: 'ورود به چاپار',
    phoneHint: 'شماره‌ی تلفن همراه خود را با کد کشور وارد کنید.',
    phoneLabel: 'شماره‌ی تلفن',
    phonePlaceholder: '+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹',
    next: 'ادامه',
    codeTitle: 'کد تأیید',
    codeHint: 'کدی را که به {phone} فرستادیم وارد کنید.',
    codeHintApp: 'کد را در برنامه‌ی چاپار روی دستگاه دیگرتان برای {phone} فرستادیم.',
    codeLabel: 'کد',
    changeNumber: 'تغییر شماره',
    resendIn: 'ارسال دوباره تا {time}',
    resend: 'ارسال دوباره‌ی کد',
    resendBy: 'ارسال دوباره با {type}',
    codeType_sms: 'پیامک',
    codeType_app: 'برنامه',
    codeType_call: 'تماس',
    nameTitle: 'حساب تازه',
    nameHint: 'این شماره هنوز حسابی ندارد. نامتان را بنویسید تا حساب ساخته شود.',
    firstName: 'نام',
    lastName: 'نام خانوادگی (اختیاری)',
    signUp: 'ساخت حساب',
    // errors
    err_PHONE_NUMBER_INVALID: 'این شماره‌ی تلفن درست نیست. آن را با کد کشور بنویسید، مثل \u2066+۹۸ ۹۱۲ ۳۴۵ ۶۷۸۹\u2069.',
    err_PHONE_CODE_INVALID: 'کد نادرست است. دوباره امتحان کنید.',
    err_PHONE_CODE_EXPIRED: 'کد منقضی شده است. کد تازه بخواهید.',
    err_PHONE_CODE_HASH_INVALID: 'کد منقضی شده است. کد تازه بخواهید.',
    err_PHONE_CODE_EMPTY: 'کد را وارد کنید.',
    err_FIRSTNAME_INVALID: 'نام را وارد کنید.',
    err_FLOOD_WAIT: 'درخواست‌ها زیاد بود. {seconds} ثانیه‌ی دیگر دوباره امتحان کنید.',
    err_USERNAME_INVALID: 'نام کاربری ۵ تا ۳۲ حرف لاتین، رقم یا خط زیر است.',
    err_USERNAME_OCCUPIED: 'این نام کاربری را کس دیگری برداشته است.',
    err_USERNAME_NOT_OCCUPIED: 'کاربری با این نام کاربری پیدا نشد.',
    err_NOT_ON_CHAPAR: 'این شماره در چاپار حساب ندارد.',
    err_MESSAGE_TOO_LONG: 'پیام بیش از اندازه بلند است.',
    err_MESSAGE_EMPTY: 'پیام خالی است.',
    err_MESSAGE_NOT_MODIFIED: 'متن تغییری نکرده است.',
    err_PEER_ID_INVALID: 'این گفتگو دیگر در دسترس نیست.',
    err_STORE_UNAVAILABLE: 'سرویس موقتاً در دسترس نیست. کمی بعد امتحان کنید.',
    err_SMS_SEND_FAILED: 'فرستادن پیامک ممکن نشد. کمی بعد امتحان کنید.',
    err_TIMEOUT: 'پاسخی از سرور نرسید. اتصال خود را بررسی کنید.',
    err_CONNECTION_LOST: 'اتصال قطع شد. دوباره امتحان کنید.',
    err_generic: 'خطایی رخ داد ({type}).',
    // main
    chats: 'گفتگوها',
    search: 'جستجو',
    searchChats: 'جستجو در گفتگوها',
    noChats: 'هنوز گفتگویی ندارید. با دکمه‌ی مداد گفتگوی تازه‌ای شروع کنید.',
    noResults: 'چیزی پیدا نشد.',
    menu: 'منو و تنظیمات',
    newChat: 'گفتگوی تازه',
    selectChat: 'یک گفتگو را برای شروع انتخاب کنید',
    connecting: 'در حال اتصال…',
    waitingNetwork: 'در انتظار شبکه…',
    updating: 'در حال به‌روزرسانی…',
    you: 'شما',
    savedMessages: 'پیام‌های ذخیره‌شده',
    typing: 'در حال نوشتن',
    unread: '{count} پیام خوانده‌نشده',
    // conversation
    back: 'بازگشت',
    messagePlaceholder: 'پیام',
    send: 'فرستادن',
    toLatest: 'رفتن به آخرین پیام',
    save: 'ذخیره',
    messages: 'پیام‌ها',
    loadingOlder: 'در حال بارگیری پیام‌های قدیمی‌تر…',
    noMessages: 'هنوز پیامی نیست. سلام کنید! 👋',
    today: 'امروز',
    yesterday: 'دیروز',
    edited: 'ویرایش‌شده',
    sending: 'در حال فرستادن',
    sent: 'فرستاده شد',
    read: 'خوانده شد',
    failed: 'فرستاده نشد',
    retry: 'تلاش دوباره',
    reply: 'پاسخ',
    edit: 'ویرایش',
    copy: 'رونوشت',
    delete: 'حذف',
    cancel: 'انصراف',
    replyTo: 'پاسخ به {name}',
    editing: 'ویرایش پیام',
    cancelReply: 'لغو پاسخ',
    cancelEdit: 'لغو ویرایش',
    messageActions: 'کارهای پیام',
    deleteTitle: 'حذف پیام',
    deleteConfirm: 'این پیام حذف شود؟',
    deleteForBoth: 'برای {name} هم حذف شود',
    deletedMessage: 'پیام حذف‌شده',
    // new chat
    newChatHint: 'نام کاربری (مثل \u2066@ali\u2069) یا شماره‌ی تلفن کسی را که در چاپار است بنویسید.',
    usernameOrPhone: 'نام کاربری یا شماره‌ی تلفن',
    startChat: 'شروع گفتگو',
    // settings
    settings: 'تنظیمات',
    editProfile: 'ویرایش نمایه',
    bio: 'درباره‌ی من',
    username: 'نام کاربری',
    usernameHint: 'دیگران می‌توانند با این نام شما را پیدا کنند. ۵ تا ۳۲ حرف لاتین، رقم یا خط زیر.',
    saved: 'ذخیره شد',
    theme: 'پوسته',
    themeSystem: 'مانند سیستم',
    themeLight: 'روشن',
    themeDark: 'تیره',
    sessions: 'نشست‌ها',
    thisDevice: 'همین دستگاه',
    terminate: 'پایان',
    terminateSession: 'پایان دادن به نشست {name}',
    lastActive: 'آخرین فعالیت: {when}',
    unknownDevice: 'دستگاه ناشناس',
    logOut: 'خروج از حساب',
    logOutConfirm: 'از حسابتان در این دستگاه خارج می‌شوید؟ پیام‌هایی که هنوز فرستاده نشده‌اند از دست می‌روند.',
    close: 'بستن',
  },
  en: {
    appName: 'Chapar',
    tagline: 'The messenger that runs on your own servers',
    language: 'Language',
    otherLanguage: 'فارسی',
    signInTitle: 'Sign in to Chapar',
    phoneHint: 'Enter your mobile number with its country code.',
    phoneLabel: 'Phone number',
    phonePlaceholder: '+98 912 345 6789',
    next: 'Next',
    codeTitle: 'Verification code',
    codeHint: 'Enter the code we sent to {phone}.',
    codeHintApp: 'We sent the code for {phone} to the Chapar app on your other device.',
    codeLabel: 'Code',
    changeNumber: 'Change number',
    resendIn: 'Resend in {time}',
    resend: 'Send the code again',
    resendBy: 'Send again by {type}',
    codeType_sms: 'SMS',
    codeType_app: 'the app',
    codeType_call: 'a call',
    nameTitle: 'New account',
    nameHint: 'This number has no account yet. Enter your name to create one.',
    firstName: 'First name',
    lastName: 'Last name (optional)',
    signUp: 'Create account',
    err_PHONE_NUMBER_INVALID: 'This phone number is not valid. Write it with the country code, like +98 912 345 6789.',
    err_PHONE_CODE_INVALID: 'The code is wrong. Please try again.',
    err_PHONE_CODE_EXPIRED: 'The code has expired. Ask for a new one.',
    err_PHONE_CODE_HASH_INVALID: 'The code has expired. Ask for a new one.',
    err_PHONE_CODE_EMPTY: 'Enter the code.',
    err_FIRSTNAME_INVALID: 'Enter your first name.',
    err_FLOOD_WAIT: 'Too many attempts. Try again in {seconds} seconds.',
    err_USERNAME_INVALID: 'A username has 5–32 Latin letters, digits or underscores.',
    err_USERNAME_OCCUPIED: 'This username is taken.',
    err_USERNAME_NOT_OCCUPIED: 'No one has this username.',
    err_NOT_ON_CHAPAR: 'This number is not on Chapar.',
    err_MESSAGE_TOO_LONG: 'The message is too long.',
    err_MESSAGE_EMPTY: 'The message is empty.',
    err_MESSAGE_NOT_MODIFIED: 'The text has not changed.',
    err_PEER_ID_INVALID: 'This chat is no longer available.',
    err_STORE_UNAVAILABLE: 'The service is briefly unavailable. Try again shortly.',
    err_SMS_SEND_FAILED: 'The SMS could not be sent. Try again shortly.',
    err_TIMEOUT: 'The server did not answer. Check your connection.',
    err_CONNECTION_LOST: 'The connection dropped. Please try again.',
    err_generic: 'Something went wrong ({type}).',
    chats: 'Chats',
    search: 'Search',
    searchChats: 'Search chats',
    noChats: 'No chats yet. Start one with the pencil button.',
    noResults: 'Nothing found.',
    menu: 'Menu and settings',
    newChat: 'New chat',
    selectChat: 'Select a chat to start messaging',
    connecting: 'Connecting…',
    waitingNetwork: 'Waiting for network…',
    updating: 'Updating…',
    you: 'You',
    savedMessages: 'Saved Messages',
    typing: 'typing',
    unread: '{count} unread messages',
    back: 'Back',
    messagePlaceholder: 'Message',
    send: 'Send',
    toLatest: 'Go to the latest message',
    save: 'Save',
    messages: 'Messages',
    loadingOlder: 'Loading older messages…',
    noMessages: 'No messages here yet. Say hello! 👋',
    today: 'Today',
    yesterday: 'Yesterday',
    edited: 'edited',
    sending: 'Sending',
    sent: 'Sent',
    read: 'Read',
    failed: 'Not sent',
    retry: 'Retry',
    reply: 'Reply',
    edit: 'Edit',
    copy: 'Copy',
    delete: 'Delete',
    cancel: 'Cancel',
    replyTo: 'Reply to {name}',
    editing: 'Editing message',
    cancelReply: 'Cancel reply',
    cancelEdit: 'Cancel editing',
    messageActions: 'Message actions',
    deleteTitle: 'Delete message',
    deleteConfirm: 'Delete this message?',
    deleteForBoth: 'Also delete for {name}',
    deletedMessage: 'Deleted message',
    newChatHint: 'Enter the username (like @ali) or phone number of someone on Chapar.',
    usernameOrPhone: 'Username or phone number',
    startChat: 'Start chat',
    settings: 'Settings',
    editProfile: 'Edit profile',
    bio: 'Bio',
    username: 'Username',
    usernameHint: 'People can find you by this name. 5–32 Latin letters, digits or underscores.',
    saved: 'Saved',
    theme: 'Theme',
    themeSystem: 'System',
    themeLight: 'Light',
    themeDark: 'Dark',
    sessions: 'Sessions',
    thisDevice: 'This device',
    terminate: 'Terminate',
    terminateSession: 'Terminate the session {name}',
    lastActive: 'Last active {when}',
    unknownDevice: 'Unknown device',
    logOut: 'Log out',
    logOutConfirm: 'Log out of Chapar on this device? Messages not sent yet will be lost.',
    close: 'Close',
  },
};

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
