// Shared settings: the server under test listens on 127.0.0.1:$REDIS_PORT (started by
// tests/client-suites/run.py, fresh for this suite). Tests use distinct key prefixes
// and flush nothing but their own database.
export const HOST = '127.0.0.1';
export const PORT = Number(process.env.REDIS_PORT || 6379);

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Waits until `check()` returns true (polling), at most `ms` milliseconds.
export async function until(check, ms = 5000, what = 'condition') {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await sleep(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}
