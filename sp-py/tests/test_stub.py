"""The hand-kept type stub against the module it describes: no public name left out."""

import ast
import pathlib

import story_portal as sp


def test_the_stub_names_every_public_class_method_and_attribute():
    package = pathlib.Path(sp.__file__).parent
    assert (package / "py.typed").exists()
    tree = ast.parse((package / "__init__.pyi").read_text())
    stubbed = {
        node.name: {
            item.name if isinstance(item, ast.FunctionDef) else item.target.id
            for item in node.body
            if isinstance(item, ast.FunctionDef)
            or (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name))
        }
        for node in tree.body
        if isinstance(node, ast.ClassDef)
    }
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    for name in sp.__all__:
        value = getattr(sp, name)
        if isinstance(value, type) and not issubclass(value, BaseException):
            public = {a for a in vars(value) if not a.startswith("_")}
            assert public <= stubbed.get(name, set()), (name, public - stubbed.get(name, set()))
        elif callable(value) and not isinstance(value, type):
            assert name in functions, name
