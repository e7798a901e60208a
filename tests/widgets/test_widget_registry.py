from __future__ import annotations

from mlnb import Model
from mlnb.errors import InvalidConfiguration
from mlnb.widgets import RegistryPanel


def test_lists_selects_and_downloads(project, tmp_path):
    workspace, model, _ = project
    model.add_tags({"area": "diabetes"})
    panel = RegistryPanel(workspace)
    label, value = panel._list.options[0]
    assert value == model.id
    assert "ScikitLearn" in label and "area=diabetes" in label and "633\u00a0B" in label
    assert panel._download.disabled
    panel.select(model.id)
    assert panel.selected == model
    assert "diabetes" in panel._details.value and not panel._download.disabled
    panel._target.value = str(tmp_path / "restored")
    panel._download.click()
    panel.join(30)
    assert (tmp_path / "restored" / model.artifact_name).is_file()
    assert "downloaded" in panel._status.value


def test_registers_with_tags_and_deletes_on_the_second_click(project, diabetes_model_file):
    workspace, model, _ = project
    panel = RegistryPanel(workspace)
    panel._name.value = model.name
    panel._path.value = str(diabetes_model_file)
    panel._tags.value = "area=diabetes, stage=test"
    panel._description.value = "second version"
    panel._register.click()
    panel.join(30)
    second = Model(workspace, model.name, version=2)
    assert second.tags == {"area": "diabetes", "stage": "test"} and second.description == "second version"
    assert panel.selected == second
    panel._delete.click()
    assert Model.list(workspace, name=model.name)[0] == second  # the first click only arms
    panel._delete.click()
    panel.join(30)
    assert [m.id for m in Model.list(workspace)] == [model.id]
    assert [value for _, value in panel._list.options] == [model.id]


def test_bad_input_is_one_line_in_the_panel(project):
    workspace, model, _ = project
    panel = RegistryPanel(workspace)
    panel._name.value, panel._path.value, panel._tags.value = "m", "/nonexistent/model.pkl", ""
    panel._register.click()
    panel.join(30)
    assert isinstance(panel._register_jobs.last_error, InvalidConfiguration)
    assert "does not exist" in panel._register_status.value and not panel._status.value
    [form] = [box for box in panel.children[1].children if panel._register in box.children]
    assert form.children.index(panel._register_status) == form.children.index(panel._register) + 1  # under the button
    panel._path.value, panel._tags.value = __file__, "oops"
    panel._register.click()
    panel.join(30)
    assert "key=value" in panel._register_status.value
