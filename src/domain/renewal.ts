/**
 * How much time left makes a certificate due for renewal: `renewBeforeMs`, or a third of its
 * lifetime (as kubelet renews at 70–90 % of it) when that is not given or is not shorter than
 * the lifetime (which would renew every new certificate at once, over and over).
 */
export function renewalThreshold(
  cert: { readonly notBefore: number; readonly notAfter: number },
  renewBeforeMs?: number,
): number {
  const lifetime = Math.max(0, cert.notAfter - cert.notBefore);
  return renewBeforeMs !== undefined && renewBeforeMs < lifetime ? renewBeforeMs : lifetime / 3;
}

/** Whether a certificate is due for renewal at `nowMs` (see renewalThreshold). */
export function renewalDue(
  cert: { readonly notBefore: number; readonly notAfter: number },
  nowMs: number,
  renewBeforeMs?: number,
): boolean {
  return cert.notAfter - nowMs <= renewalThreshold(cert, renewBeforeMs);
}

/** How often to look: a hundredth of the lifetime, between one second and one hour. */
export function renewalCheckInterval(cert: {
  readonly notBefore: number;
  readonly notAfter: number;
}): number {
  return Math.min(3_600_000, Math.max(1000, (cert.notAfter - cert.notBefore) / 100));
}
