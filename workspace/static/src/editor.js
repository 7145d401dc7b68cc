// Kring's co-editing bundle: every [data-document] element becomes a CodeMirror 6 markdown
// editor bound to a Yjs document that syncs with the server over y-websocket (/realtime).
//
// Privacy: the Y.Doc lives in memory only. Case text is never written to IndexedDB or
// localStorage (no y-indexeddb): family devices are shared. Offline edits survive a dropped
// connection (y-websocket resyncs on reconnect) but not closing the tab; the status line says so
// by staying on "offline"/"not yet saved" until the server confirms.

import * as Y from 'yjs'
import { WebsocketProvider } from 'y-websocket'
import { EditorState, Compartment, Prec } from '@codemirror/state'
import { EditorView, keymap, drawSelection, dropCursor, highlightSpecialChars } from '@codemirror/view'
import { defaultKeymap } from '@codemirror/commands'
import { syntaxHighlighting, defaultHighlightStyle, LanguageSupport } from '@codemirror/language'
import { markdownLanguage, markdownKeymap } from '@codemirror/lang-markdown'
import { yCollab, yUndoManagerKeymap } from 'y-codemirror.next'
import { encodeHello, isSaved, kringMessageHandler, messageKring } from './protocol.js'
import { findStatusElement, showStatus } from './status.js'

/** Room name -> {doc, provider, view, undoManager}; read by tests, and used to tear down. */
const editors = new Map()
window.kringEditors = editors
/** Mounted element -> room name (a WeakMap so swapped-out elements are not kept alive). */
const mounted = new WeakMap()

const serverUrl = () =>
  (location.protocol === 'https:' ? 'wss:' : 'ws:') + '//' + location.host + '/realtime'

// Matches kring.css: same border as textareas, the site-wide amber focus ring.
function cspNonce () {
  const meta = document.querySelector('meta[name="csp-nonce"]')
  return (meta && meta.getAttribute('content')) || ''
}

const theme = EditorView.theme({
  '&': { border: '2px solid #767676', borderRadius: '8px', background: '#fff', color: '#111' },
  '&.cm-focused': { outline: '3px solid #f5a623', outlineOffset: '2px' },
  '.cm-scroller': { fontFamily: 'inherit', lineHeight: '1.7' },
  '.cm-content': { padding: '.55rem .7rem', minHeight: '8rem', caretColor: '#111' },
  '.cm-cursor': { borderLeft: '2px solid #111' },
  // Remote cursor names: always visible (y-codemirror.next shows them only on mouse hover,
  // which keyboard and touch users never do), sans-serif, and a dark halo so white text stays
  // readable whatever colour the server hands out.
  '.cm-ySelectionInfo': {
    opacity: 1,
    top: '-1.3em',
    fontFamily: 'system-ui, sans-serif',
    fontSize: '.75rem',
    fontWeight: '600',
    padding: '0 .3em',
    borderRadius: '3px 3px 3px 0',
    textShadow: '0 0 2px #000, 0 0 2px #000'
  }
})

/** Editable or not. Starts locked and opens after the first sync (see mount). */
const access = (editable) => [
  EditorView.editable.of(editable),
  EditorState.readOnly.of(!editable),
  // A non-editable view is not focusable by default; keep it in the tab order so keyboard and
  // screen-reader users can still read it.
  editable ? [] : EditorView.contentAttributes.of({ tabindex: '0' })
]

/**
 * y-websocket sends every presence change its awareness applies, the other people's too: each
 * cursor it receives goes straight back to the server (which drops it), so a room's presence
 * traffic in grows with the square of its size. Send only changes to our own state: our caret,
 * our renewals, our leaving.
 * @param {WebsocketProvider} provider
 * @param {Y.Doc} doc
 */
const sendOwnPresenceOnly = (provider, doc) => {
  const send = provider._awarenessUpdateHandler
  provider.awareness.off('update', send)
  // Reassigned, not wrapped in a new listener only: provider.destroy() removes this one.
  provider._awarenessUpdateHandler = ({ added, updated, removed }, origin) => {
    const own = doc.clientID
    if (added.includes(own) || updated.includes(own) || removed.includes(own)) {
      send({ added: [], updated: [own], removed: [] }, origin)
    }
  }
  provider.awareness.on('update', provider._awarenessUpdateHandler)
}

/** @param {HTMLElement} el a [data-document] element */
const mount = (el) => {
  const room = el.dataset.document
  if (!room || mounted.has(el)) return
  const existing = editors.get(room)
  if (existing) {
    // An htmx swap that bypassed cleanup leaves a detached editor behind: replace it.
    if (existing.el.isConnected) {
      console.warn(`kring editor: room ${room} is already open on this page`)
      return
    }
    unmount(existing.el)
  }
  const readonly = el.dataset.readonly === 'true'

  const doc = new Y.Doc()
  const ytext = doc.getText('text')
  // disableBc: without it y-websocket also syncs tabs directly over BroadcastChannel, which
  // would show edits the server has not stored (and not permission-checked) yet.
  const provider = new WebsocketProvider(serverUrl(), room, doc, { disableBc: true })
  sendOwnPresenceOnly(provider, doc)
  // Per-user undo: the sync plugin registers itself as the only tracked origin, so remote
  // edits are never undone by our Ctrl+Z.
  const undoManager = new Y.UndoManager(ytext)
  const user = el.dataset.userName || ''
  const color = el.dataset.userColor || '#0b5cad'
  // Local display only; the server replaces 'user' with the identity it authenticated.
  provider.awareness.setLocalStateField('user', { name: user, color, colorLight: color + '33' })

  const accessCompartment = new Compartment()
  const view = new EditorView({
    state: EditorState.create({
      extensions: [
        accessCompartment.of(access(false)),
        // Own keymap instead of codemirror's basicSetup: that includes CodeMirror's history(),
        // whose undo would also revert other people's edits. Tab is deliberately not bound, so
        // it keeps moving focus out of the editor.
        keymap.of([...yUndoManagerKeymap, ...defaultKeymap]),
        highlightSpecialChars(),
        drawSelection(),
        dropCursor(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        // markdownLanguage instead of markdown(): the latter embeds the HTML, CSS and JavaScript
        // parsers (~150 kB) for raw HTML, which Kring's renderer switches off anyway.
        new LanguageSupport(markdownLanguage),
        Prec.high(keymap.of(markdownKeymap)), // Enter continues lists, Backspace removes markup
        EditorView.lineWrapping,
        EditorView.contentAttributes.of({ 'aria-label': el.dataset.label || '' }),
        theme,
        // CodeMirror inserts its own style element; our CSP lets it in only with this page's
        // nonce (no 'unsafe-inline'), else the editor has no border, focus ring or carets.
        EditorView.cspNonce.of(cspNonce()),
        yCollab(ytext, provider.awareness, { undoManager })
      ]
    })
  })

  // The no-JavaScript form stays in the page for when this script does not run. Its textarea
  // content is NOT copied into the Y.Doc: the text arrives via sync, copying would duplicate it.
  const textarea = el.querySelector('textarea')
  const fallback = textarea && textarea.closest('form[data-editor-fallback]')
  if (fallback && !fallback.contains(el)) fallback.hidden = true
  else if (textarea) textarea.hidden = true
  el.append(view.dom)

  const status = findStatusElement(el)
  let stored = new Map() // the server's durably stored state vector, merged by max
  let errorCode = null
  let connectedOnce = false // before the first connection we say "connecting", after: "offline"

  const render = () => {
    if (readonly) return showStatus(status, 'readonly')
    if (errorCode) return showStatus(status, 'error', errorCode)
    if (!provider.wsconnected || !provider.synced) {
      return showStatus(status, connectedOnce ? 'offline' : 'connecting')
    }
    showStatus(status, isSaved(doc, stored) ? 'saved' : 'pending')
  }

  provider.messageHandlers[messageKring] = kringMessageHandler({
    stored (sv) {
      for (const [client, clock] of sv) stored.set(client, Math.max(clock, stored.get(client) ?? 0))
      // An error is over once everything we wrote is stored after all (e.g. rate limit lifted).
      if (errorCode && errorCode !== 'readonly' && isSaved(doc, stored)) errorCode = null
      render()
    },
    error (code) {
      errorCode = code
      if (code === 'readonly') view.dispatch({ effects: accessCompartment.reconfigure(access(false)) })
      render()
    }
  })
  provider.on('status', ({ status: s }) => {
    // Hello goes out before anything else on every new socket: the 'connected' status is
    // emitted in onopen, before y-websocket writes sync step 1.
    if (s === 'connected') provider.ws.send(encodeHello())
    render()
  })
  provider.on('connection-close', () => {
    connectedOnce = true
    render()
  })
  provider.on('closed', () => {
    // The server closed with a 44xx code (e.g. access revoked): y-websocket stops retrying.
    errorCode = 'closed'
    render()
  })
  provider.on('sync', (synced) => {
    if (synced) {
      connectedOnce = true
      // Editable only after the first sync, so nobody types into an empty document that is
      // about to receive the real text (their words would land in odd places).
      if (!readonly && errorCode !== 'readonly') {
        view.dispatch({ effects: accessCompartment.reconfigure(access(true)) })
      }
    }
    render()
  })
  doc.on('update', render)
  render()

  mounted.set(el, room)
  editors.set(room, { doc, provider, view, undoManager, el })
}

/** @param {HTMLElement} el */
const unmount = (el) => {
  const room = mounted.get(el)
  if (room === undefined) return
  mounted.delete(el)
  const editor = editors.get(room)
  if (!editor || editor.el !== el) return
  editors.delete(room)
  editor.view.destroy()
  editor.undoManager.destroy()
  editor.provider.destroy() // closes the socket; the server drops our awareness state
  editor.doc.destroy()
}

/** Inside a closed <details>: not shown, so not connected yet. A plan page holds dozens of
 * sections; opening a socket only for what is on screen keeps a phone to a handful. */
const hidden = (el) => {
  for (let d = el.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) {
    if (!d.open) return true
  }
  return false
}

/** Mount every editor in root (root included) that is not folded away. */
const mountAll = (root) => {
  const mountShown = (el) => { if (!hidden(el)) mount(el) }
  if (root.matches && root.matches('[data-document]')) mountShown(root)
  if (root.querySelectorAll) root.querySelectorAll('[data-document]').forEach(mountShown)
}

// Opening a <details> mounts the editors it shows ('toggle' does not bubble: capture it).
document.addEventListener('toggle', (event) => {
  if (event.target.open) mountAll(event.target)
}, true)

// htmx fires htmx:load for swapped-in content and beforeCleanupElement for every element it
// removes (descendants included), so editors follow fragment swaps without leaking sockets.
document.addEventListener('htmx:load', (event) => mountAll(event.target))
document.addEventListener('htmx:beforeCleanupElement', (event) => unmount(event.target))
if (document.readyState === 'loading') {
  document.addEventListener('DOMContentLoaded', () => mountAll(document))
} else {
  mountAll(document)
}
