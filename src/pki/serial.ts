/**
 * Certificate serial numbers in one spelling: lower-case hex without leading zeros (TLS peers
 * print them in upper case, the X.509 library as generated).
 */
export function normalSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, "");
}
