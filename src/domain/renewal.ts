/**
 * When a certificate is renewed: once the time left is at most `renewBeforeMs`, or, when that
 * is not given, a third of its lifetime (as kubelet renews at 70–90 % of it).
 */
export function renewalDue(
  cert: { readonly notBefore: number; readonly notAfter: number },
  nowMs: number,
  renewBeforeMs?: number,
): boolean {
  const lifetime = Math.max(0, cert.notAfter - cert.notBefore);
  const threshold = renewBeforeMs ?? lifetime / 3;
  return cert.notAfter - nowMs <= threshold;
}

/** How often to look: a hundredth of the lifetime, between one second and one hour. */
export function renewalCheckInterval(cert: {
  readonly notBefore: number;
  readonly notAfter: number;
}): number {
  return Math.min(3_600_000, Math.max(1000, (cert.notAfter - cert.notBefore) / 100));
}
