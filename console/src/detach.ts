/** Starts work whose failures it reports itself (to its page) without awaiting it; anything it missed goes to the browser console. */
export function detach (work: Promise<unknown>): void {
  work.catch((error: unknown) => console.error(error))
}
