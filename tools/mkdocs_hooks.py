"""MkDocs hooks of the docs site (``hooks`` in mkdocs.yml): the Algorithms section lists every generated page.

``tools/algorithm_pages.py`` writes one page per algorithm; listing them by hand in mkdocs.yml would go stale when
an algorithm is added. The nav names ``algorithms/index.md`` only; this hook adds the pages, in the index's order.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_INDEX = "algorithms/index.md"
_PAGE_LINK = re.compile(r"\]\(([\w-]+\.md)\)")


def algorithm_nav(docs_dir: Path) -> list[str]:
    """The nav entries of the Algorithms section: the index, then each page it links to, in its order."""
    index = docs_dir / _INDEX
    pages = _PAGE_LINK.findall(index.read_text()) if index.is_file() else []
    return [_INDEX, *(f"algorithms/{page}" for page in dict.fromkeys(pages))]


def on_config(config: Any, **kwargs: Any) -> Any:
    """Expand the nav section that holds ``algorithms/index.md`` into the index and every algorithm page."""
    for item in config["nav"] or []:
        if isinstance(item, dict):
            for title, section in item.items():
                if isinstance(section, list) and _INDEX in section:
                    item[title] = algorithm_nav(Path(config["docs_dir"]))
    return config
