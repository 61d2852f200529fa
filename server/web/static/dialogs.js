"use strict";
// Modal dialogs (native <dialog>: focus is trapped and restored, Escape cancels) that ask for
// values and run an action; an error from the action is shown in the dialog, which stays open.
const Dialogs = {
  ask(id, subject, initial, action) {
    const dialog = document.getElementById(id);
    const form = dialog.querySelector("form");
    const error = dialog.querySelector(".error");
    dialog.querySelector(".dialog-subject").textContent = subject;
    error.textContent = "";
    Object.entries(initial).forEach(([name, value]) => { form.elements[name].value = value; });
    return new Promise((resolve) => {
      const submit = async (event) => {
        event.preventDefault();
        if (event.submitter && event.submitter.value === "cancel") { finish(null); return; }
        const values = Object.fromEntries(new FormData(form).entries());
        try { finish(await action(values)); } catch (e) { error.textContent = `${I18N.t("error")}: ${e.message}`; }
      };
      const cancel = () => finish(null);
      const finish = (result) => {
        form.removeEventListener("submit", submit);
        dialog.removeEventListener("cancel", cancel);
        if (dialog.open) dialog.close();
        resolve(result);
      };
      form.addEventListener("submit", submit);
      dialog.addEventListener("cancel", cancel);
      dialog.showModal();
    });
  },
};
window.Dialogs = Dialogs;
