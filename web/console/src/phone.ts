// The server's phone rules (libs/common/src/phone.cpp), so the CSV preview refuses what the
// server would: any common Colombian spelling becomes E.164; other countries in + form.

const COUNTRY_CODES = new Set(
  ('1 7 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 60 61 62 63 ' +
    '64 65 66 81 82 84 86 90 91 92 93 94 95 98 211 212 213 216 218 220 221 222 223 224 225 226 227 ' +
    '228 229 230 231 232 233 234 235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 ' +
    '252 253 254 255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298 299 350 351 ' +
    '352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 379 380 381 382 383 385 386 ' +
    '387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 ' +
    '599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692 850 852 ' +
    '853 855 856 880 886 960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 992 993 ' +
    '994 995 996 998 870 881 882 883 888 979 808').split(' '),
);

export type PhoneResult = { ok: true; e164: string } | { ok: false; reason: string };

const bad = (why: string): PhoneResult => ({ ok: false, reason: `invalid phone number: ${why}` });

function international(digits: string): PhoneResult {
  if (!digits) return bad("nothing follows the '+'");
  if (digits[0] === '0') return bad('a country code never starts with 0');
  let code = '';
  for (let len = 1; len <= 3 && len <= digits.length; len++) {
    if (COUNTRY_CODES.has(digits.slice(0, len))) {
      code = digits.slice(0, len);
      break;
    }
  }
  if (!code) return bad(`no country uses the calling code at the start of +${digits.slice(0, 3)}`);
  if (digits.length > 15) return bad(`E.164 numbers have at most 15 digits, this one has ${digits.length}`);
  const national = digits.slice(code.length);
  if (code === '57') {
    if (national.length !== 10)
      return bad(`Colombian numbers have 10 digits after +57, this one has ${national.length}`);
    if (national[0] !== '3' && !(national[0] === '6' && national[1] === '0'))
      return bad('Colombian numbers start with 3 (mobile) or 60 (landline) after +57');
  } else if (code === '1') {
    if (national.length !== 10)
      return bad(`numbers under +1 have 10 digits after the country code, this one has ${national.length}`);
    if (national[0] < '2' || national[3] < '2')
      return bad('under +1 the area code and the exchange cannot start with 0 or 1');
  } else if (national.length < 4) {
    return bad(`too short: only ${national.length} digits after the country code +${code}`);
  }
  return { ok: true, e164: `+${digits}` };
}

/** NormalizePhone with the default country code 57 (Colombia). */
export function normalizePhone(input: string): PhoneResult {
  let digits = '';
  let plus = false;
  for (const c of input) {
    if (c >= '0' && c <= '9') digits += c;
    else if (c === '+') {
      if (plus || digits) return bad("'+' may only appear once, before the digits");
      plus = true;
    } else if (' -.()\t'.includes(c)) continue;
    else return bad("it may only hold digits, spaces, dashes, dots, parentheses and a leading '+'");
    if (digits.length > 20) return bad('far too many digits');
  }
  if (!digits) return bad('it holds no digits');
  if (plus) return international(digits);
  if (digits.length > 2 && digits.startsWith('00')) return international(digits.slice(2));
  if (digits.length === 10) return international('57' + digits);
  if (digits.length === 12 && digits.startsWith('57')) return international(digits);
  return bad(`a Colombian number has 10 digits (or 12 starting with 57), this one has ${digits.length}`);
}

/** For display: +57 300 555 0001. */
export function formatPhone(e164: string): string {
  const m = /^\+57(\d{3})(\d{3})(\d{4})$/.exec(e164 || '');
  return m ? `+57 ${m[1]} ${m[2]} ${m[3]}` : e164 || '';
}
