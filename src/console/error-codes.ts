/** Error codes of the web console: its assets and the read-only log API it adds. */
export const consoleErrors = {
  VGL_CONSOLE_NOT_BUILT: {
    summary: 'The console\'s browser bundle (console/dist) is missing: it was not built.',
    hint: 'Run `npm ci` (its prepare script builds the console) or `npm run build:console`.',
    status: 503
  },
  VGL_CONSOLE_UNAVAILABLE: {
    summary: 'The log API of the console is not ready: the log is not connected yet.',
    hint: 'Wait for /readyz to answer 200, then try again.',
    status: 503,
    retryable: true
  }
} as const
