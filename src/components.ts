/**
 * The components `vigil serve` runs on its log, in start order. Each feature area adds its own.
 */
import type { ComponentFactory } from './server.ts'
import { createAuditComponent } from './audit/component.ts'
import { createSchemaRegistryComponent } from './schema/component.ts'
import { createPipelinesComponent } from './pipeline/component.ts'
import { createConsoleComponent } from './console/index.ts'

export const serverComponents: ComponentFactory[] = [
  // First: its action-audit hook must be in place before the other features add their routes.
  context => createConsoleComponent(context),
  context => createSchemaRegistryComponent(context),
  context => createAuditComponent(context),
  context => createPipelinesComponent(context)
]
