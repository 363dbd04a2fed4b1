"""Ingest a folder of Markdown into the embedded knowledge store and search it, with asyncio.

Run with: python sp-py/examples/search_notes.py [FOLDER] [QUERY]   (after `pip install ./sp-py`;
the default folder is examples/data/notes).
"""

import asyncio
import pathlib
import sys
import tempfile

import story_portal as sp

here = pathlib.Path(__file__).resolve().parent
folder = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else here.parent.parent / "examples" / "data" / "notes"
query = sys.argv[2] if len(sys.argv) > 2 else "how do I filter search results"


async def main() -> None:
    store = sp.KnowledgeStore.open(tempfile.mkdtemp(prefix="sp-notes-"))
    notes = sorted(folder.glob("*.md"))
    done = await asyncio.gather(
        *(store.aingest(p.stem, p.read_text(), external_id=p.name, source=str(p)) for p in notes)
    )
    print(f"ingested {len(done)} notes, {sum(d.sections for d in done)} sections")
    for hit in await store.asearch(query, k=3):
        print(f"{hit.score:.4f}  {hit.title} / {' > '.join(hit.heading)}\n    {hit.text[:100]!r}")
    try:
        store.search(query, mode="telepathic")
    except sp.InvalidInputError as err:
        print(f"refused with {err.code}: {err}")


asyncio.run(main())
