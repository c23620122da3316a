// The segment builder: edits the rules JSON field (#id_rules) as groups of `field op value`
// conditions and shows, as it changes, how many subscribed contacts match (the count view
// compiles the rules with the same code the audience build uses). Plain JS, no dependencies.
(function () {
  "use strict";

  var vocabularyNode = document.getElementById("segment-vocabulary");
  var root = document.getElementById("segment-builder");
  var rulesField = document.getElementById("id_rules");
  if (!vocabularyNode || !root || !rulesField) return;

  var vocabulary = JSON.parse(vocabularyNode.textContent);
  var groupsNode = document.getElementById("segment-groups");
  var countNode = document.getElementById("segment-count");
  var topicField = document.getElementById("id_topic");
  var prefix = vocabulary.attributePrefix;
  var fieldsByValue = {};
  vocabulary.fields.forEach(function (field) { fieldsByValue[field.value] = field; });

  var rules = parse(rulesField.value);
  var timer = null;
  var lastRequest = 0;

  function parse(text) {
    try {
      var value = JSON.parse(text || "{}");
      if (value && Array.isArray(value.groups)) return value;
    } catch (e) { /* fall through: start empty */ }
    return { match: "all", groups: [] };
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function select(options, value, label, onChange) {
    var node = el("select", { "aria-label": label });
    options.forEach(function (option) {
      var item = el("option", { value: option.value, text: option.label });
      if (option.value === value) item.selected = true;
      node.appendChild(item);
    });
    node.addEventListener("change", function () { onChange(node.value); });
    return node;
  }

  function button(text, className, onClick) {
    var node = el("button", { type: "button", class: className, text: text });
    node.addEventListener("click", onClick);
    return node;
  }

  // "attributes.plan" → kind "attributes", name "plan"; "locale" → kind "locale".
  function kindOf(condition) {
    if (condition.field.indexOf(prefix) === 0) return { kind: "attributes", name: condition.field.slice(prefix.length) };
    return { kind: condition.field, name: "" };
  }

  function valueText(condition) {
    if (Array.isArray(condition.value)) return condition.value.join(", ");
    return condition.value === undefined || condition.value === null ? "" : String(condition.value);
  }

  function setValue(condition, text) {
    if (condition.op === "in") {
      condition.value = text.split(",").map(function (s) { return s.trim(); }).filter(Boolean);
    } else {
      condition.value = text;
    }
  }

  function conditionRow(group, condition, index) {
    var parsed = kindOf(condition);
    var field = fieldsByValue[parsed.kind] || vocabulary.fields[0];
    var row = el("div", { class: "segment-condition" });

    row.appendChild(select(vocabulary.fields, field.value, "Field", function (kind) {
      var ops = fieldsByValue[kind].ops;
      condition.field = kind === "attributes" ? prefix + (parsed.name || "") : kind;
      condition.op = ops[0].value;
      delete condition.value;
      changed(true);
    }));

    if (field.value === "attributes") {
      var name = el("input", { type: "text", value: parsed.name, placeholder: "attribute name",
        "aria-label": "Attribute name", list: "segment-attribute-names" });
      name.addEventListener("input", function () { condition.field = prefix + name.value.trim(); changed(false); });
      row.appendChild(name);
    }

    row.appendChild(select(field.ops, condition.op, "Operator", function (op) {
      var wasList = condition.op === "in";
      condition.op = op;
      if (op === "is_set" || op === "is_not_set") delete condition.value;
      else if (wasList !== (op === "in")) setValue(condition, valueText(condition));
      changed(true);
    }));

    if (condition.op !== "is_set" && condition.op !== "is_not_set") {
      var dated = condition.op === "since" || condition.op === "before";
      var input = el("input", {
        type: dated ? "date" : "text",
        class: "segment-value",
        value: valueText(condition),
        "aria-label": "Value",
        placeholder: condition.op === "in" ? "comma-separated, e.g. " + vocabulary.locales.slice(0, 2).join(", ") : "value",
      });
      if (field.value === "locale") input.setAttribute("list", "segment-locales");
      input.addEventListener("input", function () { setValue(condition, input.value); changed(false); });
      row.appendChild(input);
    }

    row.appendChild(button("Remove", "segment-remove", function () {
      group.conditions.splice(index, 1);
      if (!group.conditions.length) rules.groups.splice(rules.groups.indexOf(group), 1);
      changed(true);
    }));
    return row;
  }

  function newCondition() {
    var first = vocabulary.fields[0];
    return { field: first.value, op: first.ops[0].value, value: "" };
  }

  function render() {
    groupsNode.textContent = "";
    var top = el("div", { class: "segment-top" }, [
      el("span", { text: "Contacts matching" }),
      select(vocabulary.matches, rules.match || "all", "How groups combine", function (match) {
        rules.match = match; changed(true);
      }),
      el("span", { text: "of these groups:" }),
    ]);
    groupsNode.appendChild(top);
    if (!rules.groups.length) {
      groupsNode.appendChild(el("p", { class: "segment-help", text: "No conditions: everyone subscribed to the topic." }));
    }
    rules.groups.forEach(function (group, g) {
      if (g > 0) groupsNode.appendChild(el("p", { class: "segment-joiner", text: rules.match === "any" ? "or" : "and" }));
      var box = el("div", { class: "segment-group", "data-group": String(g) }, [
        el("div", { class: "segment-group-head" }, [
          el("span", { text: "Group " + (g + 1) + ": match" }),
          select(vocabulary.matches, group.match || "all", "How conditions in group " + (g + 1) + " combine", function (match) {
            group.match = match; changed(true);
          }),
          el("span", { text: "of:" }),
        ]),
      ]);
      group.conditions.forEach(function (condition, i) { box.appendChild(conditionRow(group, condition, i)); });
      box.appendChild(el("div", { class: "segment-actions" }, [
        button("Add condition", "segment-add", function () { group.conditions.push(newCondition()); changed(true); }),
        button("Remove group", "segment-remove", function () { rules.groups.splice(g, 1); changed(true); }),
      ]));
      groupsNode.appendChild(box);
    });
    groupsNode.appendChild(el("div", { class: "segment-actions" }, [
      button("Add group", "segment-add", function () {
        rules.groups.push({ match: "all", conditions: [newCondition()] });
        changed(true);
      }),
    ]));
    var names = el("datalist", { id: "segment-attribute-names" });
    vocabulary.attributes.forEach(function (n) { names.appendChild(el("option", { value: n })); });
    var locales = el("datalist", { id: "segment-locales" });
    vocabulary.locales.forEach(function (n) { locales.appendChild(el("option", { value: n })); });
    groupsNode.appendChild(names);
    groupsNode.appendChild(locales);
  }

  function changed(redraw) {
    rulesField.value = JSON.stringify(rules, null, 2);
    if (redraw) render();
    clearTimeout(timer);
    timer = setTimeout(count, 300);
  }

  function count() {
    var request = ++lastRequest;
    var url = root.getAttribute("data-count-url") + "?rules=" + encodeURIComponent(JSON.stringify(rules)) +
      "&topic=" + encodeURIComponent(topicField ? topicField.value : "");
    countNode.classList.remove("is-error");
    countNode.textContent = "Counting…";
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.json().then(function (body) { return { ok: response.ok, body: body }; }); })
      .then(function (answer) {
        if (request !== lastRequest) return;  // a newer edit is being counted
        countNode.textContent = "";
        if (!answer.ok) {
          countNode.classList.add("is-error");
          countNode.textContent = "Not counted yet: " + answer.body.error;
          return;
        }
        var strong = el("strong", { id: "segment-count-value", text: answer.body.count.toLocaleString() });
        countNode.appendChild(strong);
        countNode.appendChild(document.createTextNode(
          answer.body.count === 1 ? " contact matches" : " contacts match"));
        countNode.appendChild(document.createTextNode(
          answer.body.topic ? " among the subscribers of " + answer.body.topic + "." : " among contacts subscribed to any topic."));
      })
      .catch(function () {
        if (request !== lastRequest) return;
        countNode.classList.add("is-error");
        countNode.textContent = "The count could not be loaded; check your connection and edit again.";
      });
  }

  // The JSON stays in the form (what is saved) but out of the way: the builder edits it.
  var jsonRow = rulesField.closest(".form-row, .field-rules, [class*='field-rules']") || rulesField.parentNode;
  var details = el("details", { class: "segment-json" }, [el("summary", { text: "Rules as JSON (advanced)" })]);
  jsonRow.parentNode.insertBefore(details, jsonRow);
  details.appendChild(jsonRow);
  rulesField.addEventListener("change", function () { rules = parse(rulesField.value); changed(true); });
  if (topicField) topicField.addEventListener("change", function () { changed(false); });

  render();
  changed(false);
}());
