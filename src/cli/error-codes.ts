export const cliErrors = {
  VGL_CLI_USAGE: {
    summary: 'A command was called with a missing, unknown or malformed argument.',
    hint: 'Run the command with --help to see its arguments.',
    status: 400
  },
  VGL_CLI_INPUT_INVALID: {
    summary: 'A line read from standard input could not be used (for example, not JSON where JSON is required).',
    hint: 'Each input line must be one JSON value; the message names the line number.',
    status: 400
  }
} as const
