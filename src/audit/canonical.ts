/** RFC 8785 canonical JSON moved to src/canonical-json.ts (the fleet signs commands with it too). */
export { canonicalize, sortKeys } from '../canonical-json.ts'
