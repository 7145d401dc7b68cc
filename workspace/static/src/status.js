// The save-status line under an editor. Its data-state attribute is the contract for tests and
// CSS: connecting | pending | saved | offline | readonly | error.

const texts = {
  nl: {
    connecting: 'Verbinden…',
    pending: 'Nog niet opgeslagen…',
    saved: 'Opgeslagen',
    offline: 'Offline – je wijzigingen blijven bewaard en worden verstuurd zodra er weer verbinding is',
    readonly: 'Alleen lezen',
    errors: {
      readonly: 'Je kunt dit stuk alleen lezen; je wijziging is niet opgeslagen.',
      too_large: 'Deze wijziging is te groot en is niet opgeslagen.',
      rate_limited: 'Te veel wijzigingen tegelijk. Even wachten, daarna wordt het opnieuw geprobeerd.',
      closed: 'De server heeft de verbinding gesloten. Laad de pagina opnieuw.',
      other: 'Opslaan is mislukt. Laad de pagina opnieuw.'
    }
  },
  en: {
    connecting: 'Connecting…',
    pending: 'Saving…',
    saved: 'Saved',
    offline: 'Offline – your changes are kept and sent when the connection is back',
    readonly: 'Read only',
    errors: {
      readonly: 'This document is read only for you; your change was not saved.',
      too_large: 'This change is too large and was not saved.',
      rate_limited: 'Too many changes at once. Please wait; it will be retried.',
      closed: 'The server closed the connection. Please reload the page.',
      other: 'Saving failed. Please reload the page.'
    }
  }
}

const language = () =>
  (document.documentElement.lang || '').toLowerCase().startsWith('en') ? 'en' : 'nl'

/**
 * Find the page's status element for this editor, or create one right after the editor.
 * @param {HTMLElement} el the [data-document] element
 * @returns {HTMLElement}
 */
export const findStatusElement = (el) => {
  const root = el.closest('[data-editor-root]')
  let status = root && root.querySelector('[data-save-status]')
  if (!status) {
    status = document.createElement('p')
    status.setAttribute('data-save-status', '')
    status.className = 'save-status'
    el.after(status)
  }
  // role=status is implicitly polite; set both for older screen readers.
  if (!status.hasAttribute('role')) status.setAttribute('role', 'status')
  if (!status.hasAttribute('aria-live')) status.setAttribute('aria-live', 'polite')
  return status
}

/**
 * Show a state. Writes only on change so screen readers do not re-announce the same text.
 * @param {HTMLElement} status
 * @param {string} state one of the data-state values
 * @param {string} [errorCode] for state 'error': the server's code
 */
export const showStatus = (status, state, errorCode) => {
  const t = texts[language()]
  const text = state === 'error' ? (t.errors[errorCode] || t.errors.other) : t[state]
  if (status.dataset.state !== state) status.dataset.state = state
  if (status.textContent !== text) status.textContent = text
}
