export const configErrors = {
  VGL_CONFIG_INVALID: {
    summary: 'A configuration value is missing, unknown or of the wrong type.',
    hint: 'Fix the key named in the message; docs/config.md lists every key with its type and default.',
    status: 400
  },
  VGL_CONFIG_FILE_UNREADABLE: {
    summary: 'The configuration file could not be read or is not valid JSON.',
    hint: 'Check the path given to --config (or VIGIL_CONFIG) and that the file is valid JSON.',
    status: 400
  },
  VGL_CONFIG_UNKNOWN_ENV: {
    summary: 'A VIGIL_* environment variable does not name any configuration key.',
    hint: 'Remove or rename the variable; docs/config.md lists the environment name of every key.',
    status: 400
  }
} as const
