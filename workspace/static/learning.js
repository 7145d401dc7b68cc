// Learning: selecting words in a copy's text fills the annotation form with them (and picks
// their section), so nobody has to retype a quote. Without JavaScript the form works as is.
(function () {
  'use strict'
  function fill () {
    var selection = window.getSelection()
    if (!selection || selection.isCollapsed) return
    var node = selection.anchorNode
    var el = node && (node.nodeType === 1 ? node : node.parentElement)
    var box = el && el.closest('.copy-text[data-section]')
    if (!box) return
    var form = document.querySelector('form.annotation-form')
    if (!form) return
    var quote = form.querySelector('textarea[name="quote"]')
    var section = form.querySelector('select[name="section_id"]')
    // Footnote numbers are part of the page, not of the text: leave them out.
    var part = selection.getRangeAt(0).cloneContents()
    part.querySelectorAll('sup').forEach(function (sup) { sup.remove() })
    var text = part.textContent
    if (quote) quote.value = text
    if (section) section.value = box.getAttribute('data-section')
  }
  document.addEventListener('mouseup', fill)
  document.addEventListener('keyup', function (event) { if (event.shiftKey) fill() })
})()
