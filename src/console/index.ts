/** The web console: its server side (static files, the log's read API) as one component. */
export { createConsoleComponent, type ConsoleComponentOptions } from './component.ts'
export { loadConsoleAssets, consoleDistDir } from './assets.ts'
