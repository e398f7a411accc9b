/**
 * Error codes of operations as code (`vigil plan`, `vigil apply`): the desired-state file, the
 * plan's refusals and the changes the target cannot make.
 */
export const opsErrors = {
  VGL_OPS_FILE_INVALID: {
    summary: 'The desired-state file cannot be read, is not YAML/JSON, or breaks its schema or its rules (each problem names its line and key).',
    hint: 'Fix the lines named; docs/operations.md describes every key of the file.',
    status: 400
  },
  VGL_OPS_DRIFT: {
    summary: '`vigil plan` found changes to make: the target differs from the desired state (exit code 2, for CI).',
    hint: 'Review the plan, then run `vigil apply` with the same file.'
  },
  VGL_OPS_DESTRUCTIVE: {
    summary: 'The plan holds a destructive change (a topic or ACL to delete, fewer partitions, a schema the subject\'s compatibility level refuses) that was not allowed.',
    hint: 'Read the reason named. Deletions pass with --allow-delete; fewer partitions and incompatible schemas are never applied (create a new topic or subject instead).',
    status: 409
  },
  VGL_OPS_UNSUPPORTED: {
    summary: 'The target cannot make this change (for instance adding partitions or altering a topic\'s config on the embedded log).',
    hint: 'Make the change on a new topic, or apply the file to a Kafka cluster.',
    status: 409
  },
  VGL_OPS_SECRET_MISSING: {
    summary: 'A service\'s SCRAM password comes from an environment variable that is not set.',
    hint: 'Set the variable named in the error (passwordEnv in the desired-state file) before `vigil apply`.',
    status: 400
  }
} as const
