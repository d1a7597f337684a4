/*
 * The site search's scorer (html_search_scorer in conf.py): Sphinx's default scores, plus one
 * rule. A query of five or more words is a pasted error message; then the error index's page
 * for that message (errors/messages/...) ranks above the case pages that quote the same message,
 * which would otherwise tie with it whenever one of their title words is in the message.
 * tests/sphinx_search.py ports the same rule; tests/test_error_index.py checks the ranking.
 */
var Scorer = {
  score: (result) => {
    const [docname, title, anchor, descr, score, filename, kind] = result;
    const query = new URLSearchParams(window.location.search).get("q") || "";
    const words = query.split(/[^\p{Letter}\p{Number}_]+/u).filter((w) => w);
    const pasted = words.length >= 5;
    return pasted && docname.startsWith("errors/messages/") ? score + 20 : score;
  },
  objNameMatch: 11,
  objPartialMatch: 6,
  objPrio: { 0: 15, 1: 5, 2: -5 },
  objPrioDefault: 0,
  title: 15,
  partialTitle: 7,
  term: 5,
  partialTerm: 2,
};
