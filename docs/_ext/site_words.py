"""The few sentences the docs extensions write themselves, in the language being built.

Text from the pages and the cases is translated through Sphinx's catalogues (``locale/``); the
lines the directives make up (a lead before an outcome, a caption, a summary of a folded block)
never reach a catalogue, so they are looked up here: ``say("It returns ({when}):", when=...)``
returns the template in the current language, formatted. Unknown templates stay English.
"""

from __future__ import annotations

from typing import Any

_CURRENT = {"language": "en"}

WORDS: dict[str, dict[str, str]] = {
    "zh_CN": {
        "on torch {version}, run while this page was built": "torch {version}，构建本页时运行",
        "It raises {error} ({when}):": "它抛出 {error}（{when}）：",
        "It returns ({when}):": "它返回（{when}）：",
        "It returns nothing ({when}).": "它什么也不返回（{when}）。",
        "Declared outcome, checked: {label}": "声明的结果，检查结论：{label}",
        "Setup, run it first: {what}, {lines} lines": "准备代码，请先运行：{what}，共 {lines} 行",
        "imports and the helpers it calls ({names})": "导入语句和它调用的辅助函数（{names}）",
        "imports": "导入语句",
        "The whole fix, {id}": "完整的修复代码：{id}",
        "(The fix's code is the same as the case's.)": "（修复的代码与案例的代码相同。）",
        " The change to the code above:": " 相对于上面代码的改动：",
        "The autograd graph {label}": "计算图：{label}",
        "folded: a box marked × N stands for N alike nodes": "已折叠：标有 × N 的方框代表 N 个相同的节点",
        "full-size picture": "完整大图",
        "a frame per batch: blue, what an earlier batch made, carried in": "每个批次一个框：蓝框是更早批次生成、被带入的部分",
        " ({count} nodes, every one drawn)": "（{count} 个节点，全部画出）",
        " (opens the SVG)": "（打开 SVG）",
        "The same graph as text ({summary})": "同一张计算图的文本形式（{summary}）",
        "Picture: {caption} ({count} nodes, backward can run)": "图：{caption}（{count} 个节点，反向传播可以运行）",
        "  ·  {label} on torch {version}  ·  run it: ": "  ·  在 torch {version} 上：{label}  ·  运行：",
        "Checked on torch ": "已在 torch ",
        " (declared differently: {spec})": "（声明不同：{spec}）",
        " (recorded by tools/compat.sh).": " 上检查（由 tools/compat.sh 记录）。",
        " (recorded by tools/compat.sh; see ": " 上检查（由 tools/compat.sh 记录；见",
        "the compatibility matrix": "兼容性矩阵",
        ").": "）。",
        "Source code repository": "源代码仓库",
    }
}


def set_language(language: str | None) -> None:
    _CURRENT["language"] = language or "en"


def say(template: str, **values: Any) -> str:
    table = WORDS.get(_CURRENT["language"], {})
    return table.get(template, template).format(**values)
