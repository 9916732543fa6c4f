// TLS handshake time with a file key vs a key in a SoftHSM2 token (OpenSSL pkcs11 engine), same run.
// Usage: npm run build && node bench/pkcs11-handshake.mjs [n=200]
// Needs softhsm2, opensc and libengine-pkcs11-openssl; skips (exit 0) without them.
import { performance } from 'node:perf_hooks';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createSecureContext, createServer } from 'node:tls';
import { fileURLToPath } from 'node:url';

const MODULE = '/usr/lib/softhsm/libsofthsm2.so';
const n = Number(process.argv[2] ?? 200);
const self = fileURLToPath(import.meta.url);

if (process.env.NHL_BENCH_JOB) await child(JSON.parse(process.env.NHL_BENCH_JOB));
else await parent();

async function parent() {
  const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
  if (!has('softhsm2-util') || !has('pkcs11-tool')) {
    console.log('pkcs11-handshake: skipped (softhsm2-util / pkcs11-tool not installed)');
    return;
  }
  const { TestCertificateAuthority } = await import('../dist/testing.js');
  const { writeOpenSslConfig } = await import('../dist/pkcs11.js');
  const dir = mkdtempSync(join(tmpdir(), 'nhl-bench-p11-'));
  try {
    execFileSync('mkdir', ['-p', join(dir, 'tokens')]);
    writeFileSync(join(dir, 'softhsm2.conf'), `directories.tokendir = ${join(dir, 'tokens')}\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm2.conf'), BENCH_PIN: '1234' };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--so-pin', '000000', '--pin', '1234'], { env, stdio: 'ignore' });
    const tool = (args) => execFileSync('pkcs11-tool', ['--module', MODULE, '--token-label', 'bench', ...args], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    tool(['--login', '--pin', 'env:BENCH_PIN', '--keypairgen', '--key-type', 'EC:prime256v1', '--id', '01', '--label', 'key']);
    const spki = tool(['--read-object', '--type', 'pubkey', '--label', 'key']);
    const publicKeyPem = `-----BEGIN PUBLIC KEY-----\n${spki.toString('base64').replace(/(.{64})/g, '$1\n').trimEnd()}\n-----END PUBLIC KEY-----\n`;
    const ca = await TestCertificateAuthority.create();
    const server = await ca.issueServerCertificate({ commonName: 'localhost', ipAddresses: ['127.0.0.1'] });
    const fileDevice = await ca.issueDeviceCertificate({ commonName: 'NH-BENCH-FILE' });
    const tokenDevice = await ca.issueDeviceCertificate({ commonName: 'NH-BENCH-HSM', publicKeyPem });
    const cnf = join(dir, 'openssl.cnf');
    await writeOpenSslConfig(cnf, { modulePath: MODULE });
    const job = { ca: ca.certPem, server, fileDevice, tokenCert: tokenDevice.certPem, n };
    const r = spawnSync(process.execPath, [`--openssl-config=${cnf}`, self], { env: { ...env, NHL_BENCH_JOB: JSON.stringify(job) }, stdio: 'inherit' });
    process.exitCode = r.status ?? 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function child(job) {
  const { Pkcs11CertificateProvider } = await import('../dist/pkcs11.js');
  const provider = new Pkcs11CertificateProvider({ uri: 'pkcs11:token=bench;object=key', modulePath: MODULE, pinEnv: 'BENCH_PIN', certFile: writeTmp(job.tokenCert) });
  const material = await provider.getTlsMaterial();
  const t0 = performance.now();
  const tokenCtx = createSecureContext({ cert: material.certificateChain[0], privateKeyEngine: material.privateKeyEngine, privateKeyIdentifier: material.privateKeyIdentifier, ca: job.ca });
  const tokenCtxMs = performance.now() - t0;
  const t1 = performance.now();
  const fileCtx = createSecureContext({ cert: job.fileDevice.certPem, key: job.fileDevice.keyPem, ca: job.ca });
  const fileCtxMs = performance.now() - t1;
  const srv = createServer({ cert: job.server.certPem, key: job.server.keyPem, ca: job.ca, requestCert: true, rejectUnauthorized: true }, (s) => s.end());
  await new Promise((r) => srv.listen(0, '127.0.0.1', r));
  const port = srv.address().port;
  const once = (secureContext) =>
    new Promise((resolve, reject) => {
      const start = performance.now();
      const s = connect({ host: '127.0.0.1', port, secureContext, rejectUnauthorized: false }, () => {
        const ms = performance.now() - start;
        s.destroy();
        resolve(ms);
      });
      s.once('error', reject);
    });
  for (let i = 0; i < 10; i++) {
    await once(fileCtx);
    await once(tokenCtx);
  }
  const times = { file: [], token: [] };
  for (let i = 0; i < job.n; i++) {
    times.file.push(await once(fileCtx));
    times.token.push(await once(tokenCtx));
  }
  srv.close();
  const stat = (a) => {
    const s = [...a].sort((x, y) => x - y);
    return { median: s[Math.floor(s.length / 2)], p95: s[Math.floor(s.length * 0.95)], mean: s.reduce((x, y) => x + y, 0) / s.length };
  };
  const f = stat(times.file);
  const t = stat(times.token);
  const fmt = (name, s) => `${name.padEnd(22)} n=${job.n} median ${s.median.toFixed(2)} ms  p95 ${s.p95.toFixed(2)} ms  mean ${s.mean.toFixed(2)} ms`;
  console.log(`Node ${process.version}, TLS mTLS handshake on 127.0.0.1 (client+server in one process, alternating, 10 warm-up rounds each)`);
  console.log(fmt('file key', f));
  console.log(fmt('SoftHSM2 key (pkcs11)', t));
  console.log(`ratio token/file: median ${(t.median / f.median).toFixed(2)}x, p95 ${(t.p95 / f.p95).toFixed(2)}x`);
  console.log(`createSecureContext: file ${fileCtxMs.toFixed(2)} ms, pkcs11 ${tokenCtxMs.toFixed(2)} ms`);
}

function writeTmp(text) {
  const d = mkdtempSync(join(tmpdir(), 'nhl-bench-cert-'));
  const f = join(d, 'cert.pem');
  writeFileSync(f, text);
  process.on('exit', () => rmSync(d, { recursive: true, force: true }));
  return f;
}
