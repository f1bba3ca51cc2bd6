// A real Unleash server for golive's tests (tests/unleash/conftest.py starts it; nothing else should).
// Settings come from the environment the fixture sets: UNLEASH_PORT, UNLEASH_DATABASE (a database of its
// own in the local PostgreSQL), INIT_ADMIN_API_TOKENS (the admin token the tests use). No telemetry, no
// version check: the tests must not reach the network.
import { start, LogLevel } from 'unleash-server';

const port = Number(process.env.UNLEASH_PORT);
const instance = await start({
  db: {
    host: process.env.UNLEASH_DB_HOST || '127.0.0.1',
    port: Number(process.env.UNLEASH_DB_PORT || 5432),
    user: process.env.UNLEASH_DB_USER || 'postgres',
    password: process.env.UNLEASH_DB_PASSWORD || '',
    database: process.env.UNLEASH_DATABASE,
    ssl: false,
  },
  server: { port, host: '127.0.0.1' },
  logLevel: LogLevel.warn,
  versionCheck: { enable: false },
  sendTelemetry: false,
});
console.log(`unleash listening on ${port}`);
const stop = async () => {
  await instance.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
