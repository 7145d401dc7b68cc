"""Two people co-write the shared notes in real browsers: text, cursors, the saved state."""

from __future__ import annotations

from tests.e2e.conftest import PHONE, screenshot, sign_in


def _open_case(page, base_url: str) -> None:  # type: ignore[no-untyped-def]
    page.get_by_role("link", name="Familie Bakker").click()
    page.locator('#notes [data-save-status][data-state="saved"]').wait_for()


# Records the client ids of every presence (awareness, type 1) message the page's editor sends.
RECORD_PRESENCE = """() => {
  const editor = [...window.kringEditors.values()][0]
  window.sentPresence = []
  const ws = editor.provider.ws
  const send = ws.send.bind(ws)
  ws.send = (data) => {
    const b = new Uint8Array(data)
    let p = 0
    const uint = () => {
      let n = 0, m = 1, x
      do { x = b[p++]; n += (x & 127) * m; m *= 128 } while (x > 127)
      return n
    }
    if (uint() === 1) {
      uint() // length of the awareness update
      for (let k = uint(); k > 0; k--) {
        window.sentPresence.push(uint())
        uint() // clock
        p += uint() // the state, a JSON string
      }
    }
    return send(data)
  }
  return editor.doc.clientID
}"""


def test_two_participants_see_each_others_text_and_saved_state(demo_server, new_context):
    fatima = new_context().new_page()
    sign_in(fatima, demo_server.base_url, "fatima@demo.kring.nl")
    _open_case(fatima, demo_server.base_url)
    fatima_id = fatima.evaluate(RECORD_PRESENCE)
    linda = new_context(**PHONE).new_page()
    linda.goto(demo_server.invitations["Linda Bakker"])
    linda.get_by_role("button", name="Doorgaan").click()
    linda.locator('#notes [data-save-status][data-state="saved"]').wait_for()

    fatima.locator("#notes .cm-content").click()
    fatima.keyboard.type("Afspraak: Erik belt Kees als het spannend wordt.")
    linda.locator("#notes .cm-content", has_text="Erik belt Kees").wait_for()
    # Linda's cursor label shows who is typing, with the name the server gave.
    linda.locator("#notes .cm-content").click()
    linda.keyboard.press("End")
    linda.keyboard.type(" Oma Ria neemt op.")
    fatima.locator("#notes .cm-content", has_text="Oma Ria neemt op").wait_for()
    fatima.locator("#notes .cm-ySelectionInfo", has_text="Linda").wait_for()
    linda.locator("#notes .cm-ySelectionInfo", has_text="Fatima").wait_for()
    # Drawn as a caret with a name label above it, not as loose text in the line: the
    # editor's own styles got in (they carry the page's CSP nonce).
    label = fatima.locator("#notes .cm-ySelectionInfo", has_text="Linda")
    assert label.evaluate("e => getComputedStyle(e).position") == "absolute"
    assert fatima.locator("#notes .cm-editor").evaluate(
        "e => getComputedStyle(e).position"
    ) == "relative"
    # In the person's colour (an inline style attribute the CSP lets through).
    caret_colour = fatima.locator("#notes .cm-ySelectionCaret").first.evaluate(
        "e => getComputedStyle(e).backgroundColor"
    )
    assert caret_colour not in ("rgba(0, 0, 0, 0)", "transparent")
    # Fatima's editor sent her own caret, and never echoed Linda's presence back (stock
    # y-websocket sends every state it applies: the server's presence traffic squared).
    sent = fatima.evaluate("window.sentPresence")
    assert sent and set(sent) == {fatima_id}
    fatima.locator('#notes [data-save-status][data-state="saved"]').wait_for()
    assert fatima.locator("#notes [data-save-status]").inner_text() == "Opgeslagen"
    screenshot(linda, "phone-linda-notes")
    # A reload shows the stored text: it was saved, not just shown.
    fatima.reload()
    fatima.locator("#notes .cm-content", has_text="Oma Ria neemt op").wait_for()


def test_an_observer_reads_along_but_cannot_type(demo_server, new_context):
    teacher = new_context().new_page()
    sign_in(teacher, demo_server.base_url, "vandijk@demo.kring.nl")
    teacher.get_by_role("link", name="Familie Bakker").click()
    teacher.locator('#notes [data-save-status][data-state="readonly"]').wait_for()
    assert teacher.locator("#notes .cm-content").get_attribute("contenteditable") == "false"
