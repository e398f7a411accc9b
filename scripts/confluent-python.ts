/**
 * Confluent's Python client (`confluent-kafka[schemaregistry]` from PyPI) in a virtualenv under
 * `.cache/python/`, installed the first time a test asks for it (scripts/python-venv.ts). The
 * registry interop tests drive Vigil's registry with it, next to @kafkajs/confluent-schema-registry.
 *
 *   const python = await confluentPython()     // the venv's python, with confluent_kafka importable
 */
import { pythonTool } from './python-venv.ts'

export const confluentKafkaVersion = '2.16.1'

/** The venv's python executable, installing confluent-kafka[schemaregistry] when needed. */
export function confluentPython (log: (line: string) => void = () => {}): Promise<string> {
  return pythonTool({ name: 'python', requirements: [`confluent-kafka[schemaregistry]==${confluentKafkaVersion}`], executable: 'python' }, log)
}
