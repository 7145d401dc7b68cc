// Kring's live screens (plan, decision, meeting, shared screen): catch up after a lost
// connection, follow the chair in a meeting, fill in a join code from the link. Plain script, no build step: everything here also works without it
// (links instead of following, typing the code, reloading the page).
(function () {
  'use strict'

  // A join link from the shared screen's QR code carries the code after '#': never sent to
  // the server (so never in a log), copied into the form here.
  var codeField = document.querySelector('input[name="code"]')
  if (codeField && !codeField.value && location.hash.length > 1) {
    codeField.value = decodeURIComponent(location.hash.slice(1)).toUpperCase()
    var name = document.querySelector('input[name="name"]')
    if (name) name.focus()
  }

  // Following the chair: after the "now on the screen" block is swapped in, go there.
  var following = false
  var showFollow = function () {
    document.querySelectorAll('label.follow').forEach(function (label) {
      label.hidden = false
      var box = label.querySelector('input[data-follow]')
      if (box) {
        box.checked = following
        box.addEventListener('change', function () { following = box.checked; if (following) goToFocus() })
      }
    })
  }
  var goToFocus = function () {
    var now = document.getElementById('meeting-now')
    var anchor = now && now.dataset.focusAnchor
    if (!anchor) return
    var target = document.getElementById(anchor)
    if (!target) return
    for (var d = target.closest('details'); d; d = d.parentElement && d.parentElement.closest('details')) {
      d.open = true
    }
    target.scrollIntoView({ behavior: 'smooth', block: 'start' })
  }
  document.addEventListener('htmx:afterSwap', function (event) {
    if (event.target && event.target.id === 'meeting-now') {
      showFollow()
      if (following) goToFocus()
    }
  })
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', showFollow)
  else showFollow()

  // Typing survives live updates. A block that someone else changed is fetched again, but
  // not while this person is busy in it (a form with unsaved input, or the focus in a field or
  // an editor): the swap would wipe what they typed, fold their form and drop their focus.
  // It is fetched once they are done (nothing unsaved, focus elsewhere); until then a short
  // note says it changed.
  // Only fields of a form count: a control of this screen alone (e.g. "Volg de voorzitter")
  // holds nothing to lose, and must not hold up the block it sits in.
  var busy = function (el) {
    var active = document.activeElement
    if (active && el.contains(active) && (active.isContentEditable || (active.form && active.matches('input, textarea, select')))) {
      return true
    }
    return Array.prototype.some.call(el.querySelectorAll('input, textarea, select'), function (f) {
      if (!f.form || f.type === 'hidden' || f.type === 'submit' || f.type === 'button') return false
      if (f.type === 'checkbox' || f.type === 'radio') return f.checked !== f.defaultChecked
      if (f.tagName === 'SELECT') {
        // Without a `selected` attribute the first option is the default.
        var initial = Array.prototype.findIndex.call(f.options, function (o) { return o.defaultSelected })
        return f.selectedIndex !== (initial === -1 ? 0 : initial)
      }
      return f.value !== f.defaultValue
    })
  }
  var noteFor = function (el) {
    var note = el.querySelector(':scope > .changed-meanwhile')
    if (!note) {
      note = document.createElement('p')
      note.className = 'changed-meanwhile hint'
      note.setAttribute('role', 'status')
      note.textContent = document.documentElement.lang === 'en'
        ? 'Someone changed this meanwhile. It is updated when you are done here.'
        : 'Iemand heeft dit intussen veranderd. Het wordt bijgewerkt als je hier klaar bent.'
      el.insertBefore(note, el.firstChild)
    }
  }
  document.addEventListener('htmx:beforeRequest', function (event) {
    var el = event.detail.elt
    if (!el || !el.getAttribute || !/sse:/.test(el.getAttribute('hx-trigger') || '')) return
    if (el.dataset.kringRefreshing) return
    if (busy(el)) {
      event.preventDefault()
      el.dataset.kringStale = '1'
      noteFor(el)
    }
  })
  var catchUp = function () {
    // After the event that ended the focus has settled (focus may move within the block).
    setTimeout(function () {
      document.querySelectorAll('[data-kring-stale]').forEach(function (el) {
        if (busy(el)) return
        delete el.dataset.kringStale
        el.dataset.kringRefreshing = '1'
        htmx.ajax('GET', el.getAttribute('hx-get'), { source: el, target: el, swap: 'outerHTML' })
      })
    }, 0)
  }
  document.addEventListener('focusout', catchUp)
  document.addEventListener('reset', catchUp)

  // After the live channel comes back (Wi-Fi, a sleeping laptop, a server restart), events
  // may have been missed: every live block fetches itself again. Not the co-edited sections:
  // swapping them would tear down editors that may still hold edits made offline (their own
  // websocket resyncs them).
  var opened = 0
  document.addEventListener('htmx:sseOpen', function () {
    opened += 1
    if (opened > 1) {
      document.querySelectorAll('[hx-trigger*="kring:resync"]').forEach(function (el) {
        htmx.trigger(el, 'kring:resync')
      })
    }
  })
})()
