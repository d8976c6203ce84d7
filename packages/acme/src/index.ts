/**
 * @postern/acme: certificates from an ACME CA (RFC 8555) for Postern's names, answered by
 * TLS-ALPN-01 (RFC 8737) on the HTTPS port or HTTP-01 on port 80.
 *
 * Invariants:
 * - The pairs are files; every app reads them through TlsMaterial, which reloads changed files,
 *   so a renewal reaches every TLS port without a restart.
 * - Challenge certificates are shown only to a client that asks for `acme-tls/1`
 *   (RFC 8737 §3); everyone else on the HTTPS port gets the real certificate.
 * - Nothing here listens by itself: the app that owns the web ports wires `alpnFront` and
 *   `Challenges.httpAnswer` into its servers.
 */
export * from './alpn.js';
export * from './manager.js';
