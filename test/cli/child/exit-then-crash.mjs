// Stands in for a re-executed CLI whose PKCS#11 module crashes in OpenSSL's exit-time cleanup:
// it reports its exit code through the real reportExitCodeToParent (unless told not to), then dies by SIGSEGV.
import { tsImport } from 'tsx/esm/api';

const { reportExitCodeToParent } = await tsImport('../../../src/cli/openssl-reexec.ts', import.meta.url);
if (process.env.NHL_TEST_REPORT !== '0') await reportExitCodeToParent(Number(process.env.NHL_TEST_CODE ?? '2'));
process.kill(process.pid, 'SIGSEGV');
