import { InvalidFieldError, showValue } from "./errors.js";
import { parseSha256, type Sha256 } from "./names.js";

declare const httpsUrl: unique symbol;
/** An absolute `https://` URL, normalised. */
export type HttpsUrl = string & { readonly [httpsUrl]: true };

/** Something to download: an https URL and the digest its content must have. */
export interface VerifiedDownload {
  readonly url: HttpsUrl;
  readonly sha256: Sha256;
}

/**
 * The one gate for downloads (modules, disk images): an `https://` URL and a lowercase 64-hex
 * sha256, errors naming `<field>.url` and `<field>.sha256`.
 */
export function parseVerifiedDownload(
  field: string,
  url: string,
  sha256: string | undefined,
): VerifiedDownload {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidFieldError(`${field}.url`, `invalid URL ${showValue(url)}`);
  }
  if (parsed.protocol !== "https:")
    throw new InvalidFieldError(`${field}.url`, `URL ${showValue(url)} must use https://`);
  if (sha256 === undefined) throw new InvalidFieldError(`${field}.sha256`, "required with url");
  return { url: parsed.href as HttpsUrl, sha256: parseSha256(`${field}.sha256`, sha256) };
}
