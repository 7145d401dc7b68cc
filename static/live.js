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
