/** Hash routes (#/dead-letters?topic=x): the server serves one page and the URL still says where you are. */
import { useEffect, useState } from 'preact/hooks'

export interface Route {
  path: string
  params: URLSearchParams
}

export function currentRoute (): Route {
  const hash = location.hash.replace(/^#/, '') || '/'
  const [path, search] = hash.split('?', 2) as [string, string | undefined]
  return { path, params: new URLSearchParams(search ?? '') }
}

export function useRoute (): Route {
  const [route, setRoute] = useState(currentRoute)
  useEffect(() => {
    const changed = (): void => setRoute(currentRoute())
    addEventListener('hashchange', changed)
    return () => removeEventListener('hashchange', changed)
  }, [])
  return route
}

export function href (path: string, params: Record<string, string | number | undefined> = {}): string {
  const q = new URLSearchParams()
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== '') q.set(k, String(v))
  const s = q.toString()
  return `#${path}${s === '' ? '' : `?${s}`}`
}
