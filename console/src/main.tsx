/**
 * The Vigil console: sign-in, the navigation and the page of the current route. Every page
 * reads the server's own APIs with the tab's token; nothing is cached beyond the tab.
 */
import { detach } from './detach.ts'
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, getToken, setSignedInAs, setToken } from './api.ts'
import { useRoute } from './router.ts'
import { ErrorBox } from './ui.tsx'
import { OverviewPage } from './pages/overview.tsx'
import { DeadLettersPage } from './pages/dead-letters.tsx'
import { AuditPage } from './pages/audit.tsx'
import { SchemasPage } from './pages/schemas.tsx'
import { TopicsPage } from './pages/topics.tsx'
import { FleetPage } from './pages/fleet.tsx'
import { LivePage } from './pages/live.tsx'

export interface Whoami {
  name: string
  roles: string[]
  nodeId?: string
}

const pages = [
  { path: '/', title: 'Overview', page: OverviewPage },
  { path: '/fleet', title: 'Fleet', page: FleetPage },
  { path: '/live', title: 'Live events', page: LivePage },
  { path: '/dead-letters', title: 'Dead letters', page: DeadLettersPage },
  { path: '/audit', title: 'Audit', page: AuditPage },
  { path: '/schemas', title: 'Schemas', page: SchemasPage },
  { path: '/topics', title: 'Topics and groups', page: TopicsPage }
]

function SignIn ({ onSignedIn, refused }: { onSignedIn: (who: Whoami) => void, refused: Error | undefined }) {
  const [token, setTokenField] = useState('')
  const [error, setError] = useState<Error | undefined>(refused)
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault()
    setBusy(true)
    try {
      const who = await api<Whoami>('/v1/access/whoami', { token })
      setToken(token)
      onSignedIn(who)
    } catch (e) {
      setError(e instanceof ApiError && e.status === 401 ? new Error('That token was refused: it is not one of the server\'s API tokens.') : e as Error)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class='signin'>
      <h1>Vigil console</h1>
      <form onSubmit={e => { detach(submit(e)) }}>
        <label for='token'>API token</label>
        <input id='token' name='token' type='password' autocomplete='current-password' value={token} onInput={e => setTokenField((e.target as HTMLInputElement).value)} required />
        <p class='hint'>The token is kept for this tab only (sessionStorage) and sent with every request.</p>
        <button type='submit' disabled={busy}>Sign in</button>
        <ErrorBox error={error} />
      </form>
    </main>
  )
}

function App () {
  const route = useRoute()
  const [who, setWho] = useState<Whoami | null | undefined>(undefined)
  const [refused, setRefused] = useState<Error | undefined>(undefined)
  useEffect(() => {
    api<Whoami>('/v1/access/whoami').then(setWho, (e: Error) => {
      if (getToken() !== null) setRefused(new Error('The stored token is no longer accepted: sign in again.'))
      setToken(null)
      setWho(null)
      if (!(e instanceof ApiError) || e.status !== 401) setRefused(e)
    })
  }, [])
  if (who === undefined) return <main><p role='status'>Connecting…</p></main>
  if (who === null) return <SignIn onSignedIn={setWho} refused={refused} />
  setSignedInAs(who.name)
  const current = pages.find(p => p.path === route.path) ?? pages[0]!
  const Page = current.page
  return (
    <div class='shell'>
      <header>
        <a class='brand' href='#/'>Vigil</a>
        <nav aria-label='Pages'>
          {pages.map(p => <a key={p.path} href={`#${p.path}`} aria-current={p === current ? 'page' : undefined}>{p.title}</a>)}
        </nav>
        <span class='who'>
          Signed in as <strong data-testid='principal'>{who.name}</strong>
          <button type='button' class='link' onClick={() => { setToken(null); setWho(null); setRefused(undefined) }}>Sign out</button>
        </span>
      </header>
      <main>
        <h1>{current.title}</h1>
        <Page params={route.params} />
      </main>
    </div>
  )
}

render(<App />, document.getElementById('app')!)
