/**
 * Test helpers for apps built on nerves-hub-link: a local NervesHub server, a test CA and a
 * fwup-format archive writer. Import from `nerves-hub-link/testing`; never use in production.
 * @packageDocumentation
 */

// --- certificates ---
export { TestCertificateAuthority } from './test-ca.js';
export type { IssuedCertificate, IssueOptions } from './test-ca.js';

// --- firmware ---

// --- server ---
