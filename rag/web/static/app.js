() => {
  // Citations in answers: hover or focus shows a popover (headline, outlet, date, the quote in its
  // sentence) under the line; Escape closes it. A click shows its source's card in the sources panel; with
  // Ctrl, Cmd or the middle button it opens the article's own page like any link.
  let popover = null, hideTimer = null, owner = null;
  const hide = () => {
    if (popover) { popover.remove(); popover = null; }
    if (owner) { owner.removeAttribute('aria-describedby'); owner = null; }
  };
  // a citation's address names its quote's popover ("cite=TURN-N") and its source's card ("card=TURN-K")
  const citeKey = (link, key = 'cite') => new URL(link.href, location.href).searchParams.get(key);
  const show = (link) => {
    const template = document.getElementById(`pop-${citeKey(link)}`);
    if (!template) return;
    clearTimeout(hideTimer);
    hide();
    popover = document.createElement('div');
    popover.className = 'cite-popover';
    popover.id = 'cite-popover';
    popover.setAttribute('role', 'tooltip');
    popover.appendChild(template.content.cloneNode(true));
    popover.addEventListener('mouseenter', () => clearTimeout(hideTimer));
    popover.addEventListener('mouseleave', () => { hideTimer = setTimeout(hide, 200); });
    document.body.appendChild(popover);
    const line = link.getBoundingClientRect();
    const width = popover.offsetWidth;
    const left = Math.max(8, Math.min(window.scrollX + line.left, window.scrollX + document.documentElement.clientWidth - width - 8));
    let top = window.scrollY + line.bottom + 6;  // below the line being read
    if (line.bottom + popover.offsetHeight + 12 > window.innerHeight && line.top > popover.offsetHeight + 12) {
      top = window.scrollY + line.top - popover.offsetHeight - 6;  // no room below: above it
    }
    popover.style.left = `${left}px`;
    popover.style.top = `${top}px`;
    owner = link;
    link.setAttribute('aria-describedby', 'cite-popover');
  };
  const citeOf = (event) => event.target.closest ? event.target.closest('a.cite') : null;
  document.addEventListener('mouseover', (e) => { const l = citeOf(e); if (l) show(l); });
  document.addEventListener('mouseout', (e) => { if (citeOf(e)) hideTimer = setTimeout(hide, 300); });
  let refocused = null;  // the link the focus was given back to: its focus must not reopen the popover
  const refocus = (link, options) => { refocused = link; link.focus(options); };  // back to a [n]
  document.addEventListener('focusin', (e) => {
    const l = citeOf(e);
    if (l && l === refocused) { refocused = null; return; }
    if (l) show(l); else if (popover && !popover.contains(e.target)) hide();
  });
  // Tab from a [n] whose popover is open goes into the popover (its "Open the whole article" link), and
  // Tab from there on to what follows the [n]; Shift+Tab back to the [n]. (The popover sits at the end of
  // the page, where the keyboard never reached it.)
  const focusable = () => [...document.querySelectorAll('a[href], button, input, textarea, select, [tabindex]')]
    .filter((el) => el.tabIndex >= 0 && !el.disabled && el.getClientRects().length && !popover?.contains(el));
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab' || !popover || !owner) return;
    const inside = popover.contains(document.activeElement);
    if (!inside && document.activeElement === owner && !e.shiftKey) {
      const link = popover.querySelector('a');
      if (link) { e.preventDefault(); link.focus(); }
    } else if (inside) {
      e.preventDefault();
      const o = owner, all = focusable(), next = all[all.indexOf(o) + 1];
      if (e.shiftKey || !next) refocus(o); else { hide(); next.focus(); }
    }
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || !popover) return;
    const o = owner, inside = popover.contains(document.activeElement);
    hide();
    if (o && inside) refocus(o);  // focus was in the popover: back to its [n]
  });
  // Gradio's date pickers have icon-only calendar buttons, and inputs named only by their placeholder
  // ("YYYY-MM-DD"): give each the name of its field.
  const fieldName = (element) => {
    const field = element.closest('[id]');
    const label = field ? field.querySelector('label, [data-testid=block-info]') : null;
    return label ? label.textContent.trim() : '';
  };
  const namePickers = () => {
    document.querySelectorAll('.timebox > .calendar:not([aria-label])').forEach((b) => {
      const name = fieldName(b);
      b.setAttribute('aria-label', `Choose a date${name ? ': ' + name : ''}`);
    });
    document.querySelectorAll('.timebox > input:not([aria-label])').forEach((input) => {
      const name = fieldName(input);
      if (name) input.setAttribute('aria-label', name);
    });
  };
  new MutationObserver(namePickers).observe(document.body, {childList: true, subtree: true});
  namePickers();
  // Gradio names each chat message by its content, which for an answer is HTML: a screen reader read
  // out "<a class=cite href=...>". The message is named by the words it shows instead.
  const nameMessages = () => {
    document.querySelectorAll('#chat [aria-label]').forEach((m) => {
      const label = m.getAttribute('aria-label');
      const who = /^(user's message|Question):/.test(label) ? 'Question'
        : /^(bot's message|Answer):/.test(label) ? 'Answer' : null;
      if (!who) return;
      const words = m.textContent.replace(/\s+/g, ' ').trim();
      const name = `${who}: ${words.length > 300 ? words.slice(0, 300) + '…' : words}`;
      if (label !== name) m.setAttribute('aria-label', name);  // (as the answer replaces "Searching…" too)
    });
  };
  new MutationObserver(nameMessages).observe(document.body, {childList: true, subtree: true, characterData: true,
                                                             attributes: true, attributeFilter: ['aria-label']});
  // "Back to [n]": the way back from the card a [n] led to, to that [n] (Escape in the sources, or the card's
  // button, for a mouse or a finger: on a phone the card is far below the answer), as a reference list's
  // backlink. One at a time, and only while it leads somewhere: following another [n] moves it to that
  // [n]'s card; it goes with its button when the panel shows other sources (another answer's, a new
  // answer's, a Clear: Gradio rewrites the panel, its cards' nodes kept) and when the [n] goes (the answer
  // cleared while its sources still show). It outlived its answer: Escape in answer 2's sources jumped to
  // answer 1's [n].
  let back = null;  // {citation, button}
  const backTarget = () => (back && back.citation.isConnected && back.button.isConnected ? back.citation : null);
  const dropBack = () => {
    if (back) back.button.remove();
    back = null;
  };
  const offerBack = (citation, card) => {
    dropBack();
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'back-to-answer';
    button.textContent = `Back to ${citation.firstChild.textContent} in the answer`;
    (card.querySelector('.card-actions') || card).appendChild(button);
    back = {citation, button};
  };
  new MutationObserver(() => { if (back && !backTarget()) dropBack(); })
    .observe(document.body, {childList: true, subtree: true});
  const goBack = () => {
    const citation = backTarget();
    if (!citation) return;
    citation.scrollIntoView({block: 'center'});
    refocus(citation, {preventScroll: true});
  };
  document.addEventListener('click', (e) => {
    if (back && e.target.closest && e.target.closest('button.back-to-answer') === back.button) goBack();
  });
  document.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape' || popover || !back) return;
    if (e.target.closest && e.target.closest('#sources-panel')) goBack();
  });
  document.addEventListener('click', (e) => {
    const link = citeOf(e);
    if (!link || e.ctrlKey || e.metaKey || e.shiftKey || e.button === 1) return;
    e.preventDefault();
    hide();  // the popover would cover the card it leads to
    dropBack();  // (the reader moved on from the last [n] followed)
    const id = `src-${citeKey(link, 'card') ?? citeKey(link)}`;  // (an answer shown before sources were numbered)
    const quote = citeKey(link).split('-')[1];  // which of the card's highlights this [n] quotes
    let tries = 0;
    const reveal = () => {
      const card = document.getElementById(id);
      if (card) {
        card.scrollIntoView({block: 'nearest'});
        card.tabIndex = -1;  // the keyboard goes on from the card: its buttons are the next Tab
        card.focus({preventScroll: true});
        card.classList.add('flash');  // until the reader moves on (it went after 1.5 s, often unseen)
        const mark = card.querySelector(`mark[data-n="${quote}"]`);
        if (mark) mark.classList.add('current');
        card.dataset.current = quote;  // the card's whole article opens at this quote (openAt)
        offerBack(link, card);
        card.addEventListener('blur', () => {
          card.classList.remove('flash');
          if (mark) mark.classList.remove('current');
        }, {once: true});
      } else if (tries++ < 50) {
        setTimeout(reveal, 100);
      }
    };
    reveal();
  }, true);
  // A card's "Open the whole article" opens at the quote the reader came to the card from: that quote's
  // span first in the address's quote=, which the page scrolls into view (render.highlighted_body).
  const openAt = (e) => {
    const link = e.target.closest && e.target.closest('.card a.article-page');
    const card = link && link.closest('.card');
    const mark = card && card.dataset.current && card.querySelector(`mark[data-n="${card.dataset.current}"]`);
    if (!mark) return;
    const url = new URL(link.href, location.href);
    const others = (url.searchParams.get('quote') || '').split(',').filter((s) => s && s !== mark.dataset.span);
    url.searchParams.set('quote', [mark.dataset.span, ...others].join(','));
    link.href = url.pathname + url.search;
  };
  // Closing the article goes back to the card's button that opened it (focus fell to the page's top)
  let opener = null;
  document.addEventListener('click', (e) => {
    const open = e.target.closest && e.target.closest('button.open-article');
    if (open) opener = open;
    if (e.target.closest && e.target.closest('#close-article') && opener && opener.isConnected) {
      setTimeout(() => opener.focus(), 0);
    }
  });
  document.addEventListener('click', openAt, true);
  document.addEventListener('auxclick', openAt, true);  // the middle button
  // A date filter holding text that is no date: Gradio marks its input "invalid" and keeps filtering by
  // the last good date, which the field no longer shows. Such a question is stopped, with a note that
  // names the field, until the date is mended or cleared.
  // (a day that does not exist, "2026-02-30", has the right shape: Gradio takes it, the server refuses it)
  const noSuchDay = (value) => /^\d{4}-\d{2}-\d{2}$/.test(value) &&
    (isNaN(Date.parse(value)) || new Date(Date.parse(value)).toISOString().slice(0, 10) !== value);
  const badDate = () => [...document.querySelectorAll('#filters .timebox input')]
    .find((input) => input.value.trim() && (input.classList.contains('invalid') || noSuchDay(input.value.trim())));
  const dateNote = () => {
    let note = document.getElementById('date-note');
    if (!note) {
      note = document.createElement('div');
      note.id = 'date-note';
      note.setAttribute('role', 'alert');
      document.getElementById('filters').after(note);
    }
    return note;
  };
  const stopIfBadDate = (e) => {
    const input = badDate();
    if (!input) { if (document.getElementById('date-note')) dateNote().textContent = ''; return; }
    e.preventDefault();
    e.stopImmediatePropagation();
    dateNote().textContent = `“${input.value.trim()}” in ${fieldName(input) || 'a date field'} ` +
      'is not a date: write it as YYYY-MM-DD (or pick it from the calendar), or clear the field.';
    input.focus();
  };
  document.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && e.target.closest && e.target.closest('#question')) stopIfBadDate(e);
  }, true);
  document.addEventListener('click', (e) => {
    if (e.target.closest && e.target.closest('#ask-button')) stopIfBadDate(e);
  }, true);
  // the note goes once no field holds a bad date (Gradio marks the input as it is typed in)
  document.addEventListener('input', (e) => {
    const note = document.getElementById('date-note');
    if (note && e.target.closest && e.target.closest('#filters .timebox')) {
      setTimeout(() => { if (!badDate()) note.textContent = ''; }, 50);
    }
  });
  // A new question scrolls the chat to itself, so its answer is read from the top: Gradio's autoscroll
  // (off, see app.py) kept the chat at its bottom, where a long answer showed its last lines only.
  let questionsSeen = 0, settling = false;
  const toQuestion = () => {
    const log = document.querySelector('#chat [role=log]');
    const questions = log ? log.querySelectorAll('[data-testid=user]') : [];
    if (questions.length) {
      const last = questions[questions.length - 1];
      log.scrollTop += last.getBoundingClientRect().top - log.getBoundingClientRect().top - 8;
    }
  };
  new MutationObserver(() => {
    const log = document.querySelector('#chat [role=log]');
    const questions = log ? log.querySelectorAll('[data-testid=user]') : [];
    if (questions.length !== questionsSeen) { questionsSeen = questions.length; settling = questionsSeen > 0; }
    if (!settling) return;
    toQuestion();
    const last = questions[questions.length - 1];
    const answers = log.querySelectorAll('[data-testid=bot]');
    const answer = answers[answers.length - 1];
    // until its answer is in (while "Searching…" shows, the chat is too short to scroll the question up),
    // and again as the answer is laid out
    if (answer && (last.compareDocumentPosition(answer) & Node.DOCUMENT_POSITION_FOLLOWING)
        && !answer.textContent.includes('Searching the articles')) {
      settling = false;
      [100, 400, 1000].forEach((ms) => setTimeout(toQuestion, ms));
    }
  }).observe(document.body, {childList: true, subtree: true});
  // A stopped app (Ctrl-C, a crash): the status line said "Ready" under Gradio's "connection lost" toast,
  // and Ask did nothing (a tester). The app's /alive (an id of its start) is asked every few seconds; after
  // two misses in a row the status line says so and Ask is disabled. When the same app answers again (a
  // network blip), the page is as it was; a restarted app knows nothing of this page: a reload is asked for.
  let misses = 0, started = null, saved = null;
  setInterval(async () => {
    let id = null;
    try {
      const reply = await fetch('alive', {cache: 'no-store', signal: AbortSignal.timeout(4000)});
      id = reply.ok ? await reply.text() : null;
    } catch (err) { id = null; }
    started = started || id;
    misses = id ? 0 : misses + 1;
    const line = document.querySelector('#status-line .status');
    const ask = document.querySelector('#ask-button');
    if (!line) return;
    if (!id && misses >= 2 && !saved) {
      saved = {className: line.className, state: line.dataset.state, text: line.textContent};
      line.className = 'status status-error';
      line.dataset.state = 'stopped';
      line.textContent = 'Stopped: the app is not running. Start it again, then reload this page.';
      if (ask) ask.disabled = true;
    } else if (id && saved) {
      if (id === started) {
        Object.assign(line, {className: saved.className, textContent: saved.text});
        line.dataset.state = saved.state;
      } else {
        line.dataset.state = 'restarted';
        line.textContent = 'The app is running again: reload this page to go on.';
      }
      if (ask) ask.disabled = id !== started;
      saved = id === started ? null : saved;
    }
  }, 3000);
  // "Copy as Markdown": the answer with its quotes and a numbered source list.
  document.addEventListener('click', async (e) => {
    const button = e.target.closest ? e.target.closest('button.copy-md') : null;
    if (!button) return;
    const text = button.closest('.sources').querySelector('textarea.md-source').value;
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {
      const area = document.createElement('textarea');
      area.value = text; document.body.appendChild(area); area.select(); document.execCommand('copy'); area.remove();
    }
    button.textContent = 'Copied';
    setTimeout(() => { button.textContent = 'Copy as Markdown'; }, 1500);
  });
}
